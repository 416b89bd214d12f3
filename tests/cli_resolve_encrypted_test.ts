import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { killAll, runCli, text } from "./cli_helpers.ts";
import { testCertificates } from "./peers/certs.ts";
import type { TestCertificates } from "./peers/certs.ts";
import { startUnbound } from "./peers/unbound.ts";
import type { UnboundPeer } from "./peers/unbound.ts";

let certs: TestCertificates;
let peer: UnboundPeer;

describe("cli: resolve over DNS over TLS and DNS over HTTPS", () => {
  before(async () => {
    certs = await testCertificates();
    peer = await startUnbound({ cert: certs.server.cert, key: certs.server.key });
  });
  after(async () => {
    await killAll();
    await peer?.stop();
  });

  const servers = () => [
    `tls://127.0.0.1:${peer.tlsPort}#localhost`,
    `https://127.0.0.1:${peer.httpsPort}${peer.path}#localhost`,
  ];

  for (const kind of ["tls", "https"]) {
    const server = () => servers()[kind === "tls" ? 0 : 1];

    it(`--server ${kind}://... --ca FILE: the addresses, IPv6 first`, async () => {
      const result = await runCli(["resolve", "both.unisock.test", "--server", server(), "--ca", certs.ca.certFile]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(text(result), "2001:db8::2\n203.0.113.2\n");
      const json = await runCli(["resolve", "alias.unisock.test", "a.unisock.test", "--json", "--server", server(), "--ca", certs.ca.certFile]);
      assert.equal(json.code, 0, json.stderr);
      assert.deepEqual(JSON.parse(text(json)), { "alias.unisock.test": ["203.0.113.1"], "a.unisock.test": ["203.0.113.1"] });
    });

    it(`--server ${kind}://... NXDOMAIN: name-unresolvable, exit 1`, async () => {
      const result = await runCli(["resolve", "nope.unisock.test", "--server", server(), "--ca", certs.ca.certFile]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /name-unresolvable/);
    });

    it(`--server ${kind}://... without --ca: the certificate is untrusted, exit 1`, async () => {
      const result = await runCli(["resolve", "a.unisock.test", "--server", server()]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /temporary-resolver-failure: .*tls-certificate-untrusted/);
      assert.equal(text(result), "");
    });
  }

  it("--ca without an encrypted --server, or a bad one: exit 2, usage", async () => {
    for (
      const args of [
        ["resolve", "a.unisock.test", "--ca", "ca.pem"],
        ["resolve", "a.unisock.test", "--server", "127.0.0.1", "--ca", "ca.pem"],
        ["resolve", "a.unisock.test", "--server", "tls://127.0.0.1:853", "--ca", "/nonexistent/ca.pem"],
        ["resolve", "a.unisock.test", "--server", "tls://[::1"],
      ]
    ) {
      const result = await runCli(args);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, /^usage: unisock /m);
    }
  });
});
