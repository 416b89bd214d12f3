/**
 * Self-check of the TLS test peers (tests/peers/certs.ts, tests/peers/openssl.ts): the
 * certificates verify as intended, and openssl talks to openssl through them. No unisock
 * TLS is used here, so a failure points at the peers, not at unisock.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { testCertificates } from "./peers/certs.ts";
import { runOpenssl, runOpensslClient, startOpensslServer } from "./peers/openssl.ts";

/** `openssl verify` of `certFile` against `caFile`: whether it passed, and all it printed. */
async function verify(caFile: string, certFile: string, purpose = "sslserver"): Promise<{ ok: boolean; text: string }> {
  const result = await runOpenssl(["verify", "-no-CApath", "-no-CAstore", "-purpose", purpose, "-CAfile", caFile, certFile]);
  assert.equal(result.timedOut, false);
  return { ok: result.code === 0, text: result.stdout + result.stderr };
}

describe("TLS test peers (self-check)", () => {
  it("makes the certificates once, as PEM, with DER and fingerprints that agree", async () => {
    const certs = await testCertificates();
    assert.equal(await testCertificates(), certs, "cached per process");
    for (const [name, item] of Object.entries(certs)) {
      if (typeof item === "string") continue;
      assert.match(item.cert, /^-----BEGIN CERTIFICATE-----\n/, name);
      assert.match(item.key, /^-----BEGIN PRIVATE KEY-----\n/, name);
      assert.ok(item.der instanceof Uint8Array && item.der.length > 300, name);
      assert.equal(item.fingerprint256, createHash("sha256").update(item.der).digest("hex"), name);
      assert.match(item.fingerprint256, /^[0-9a-f]{64}$/, name);
    }
    assert.equal(certs.ca.subject, "CN=unisock test CA");
    assert.equal(certs.server.subject, "CN=localhost");
    assert.equal(certs.server.issuer, "CN=unisock test CA");
    assert.equal(certs.client.subject, "CN=alice,O=Example");
    assert.equal(certs.untrustedClient.issuer, "CN=unisock untrusted CA");
    assert.equal(certs.expired.validTo.toISOString(), "2020-01-02T00:00:00.000Z");
    assert.ok(certs.server.validFrom.getTime() <= Date.now() && certs.server.validTo.getTime() > Date.now());
  });

  it("openssl verify: trusted ones pass, the others fail for the intended reason", async () => {
    const { ca, untrustedCa, server, other, untrusted, selfSigned, expired, client, untrustedClient } = await testCertificates();
    assert.deepEqual(await verify(ca.certFile, server.certFile), { ok: true, text: `${server.certFile}: OK\n` });
    assert.equal((await verify(ca.certFile, other.certFile)).ok, true);
    assert.equal((await verify(ca.certFile, client.certFile, "sslclient")).ok, true);
    assert.equal((await verify(ca.certFile, client.certFile, "sslserver")).ok, false, "a client certificate is not a server's");
    assert.equal((await verify(untrustedCa.certFile, untrusted.certFile)).ok, true, "untrusted only by the tests");

    const unknown = await verify(ca.certFile, untrusted.certFile);
    assert.equal(unknown.ok, false);
    assert.match(unknown.text, /unable to get local issuer certificate/);
    assert.equal((await verify(ca.certFile, untrustedClient.certFile, "sslclient")).ok, false);
    const self = await verify(ca.certFile, selfSigned.certFile);
    assert.equal(self.ok, false);
    assert.match(self.text, /self-signed certificate/);
    const old = await verify(ca.certFile, expired.certFile);
    assert.equal(old.ok, false);
    assert.match(old.text, /certificate has expired/);
  });

  it("s_client gets each line back reversed from s_server -rev, with ALPN, and by SNI", async () => {
    const { ca, server, other } = await testCertificates();
    await using peer = await startOpensslServer({
      certFile: server.certFile,
      keyFile: server.keyFile,
      mode: "rev",
      alpn: ["h2", "test/1"],
      sni: { serverName: "other.test", certFile: other.certFile, keyFile: other.keyFile },
    });
    assert.match(peer.output(), /^ACCEPT$/m);
    const result = await runOpensslClient({
      port: peer.port,
      serverName: "localhost",
      caFile: ca.certFile,
      input: "hello unisock\nQ is no command\n",
      until: "dnammoc on si Q\n",
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "kcosinu olleh\ndnammoc on si Q\n", "-brief: stdout is the data only");
    assert.match(result.stderr, /^Protocol version: TLSv1\.3$/m);
    assert.match(result.stderr, /^Peer certificate: CN = localhost$/m);
    assert.match(result.stderr, /^Verification: OK$/m);

    // ALPN shows only in the full output; no data is sent, so nothing interleaves with it.
    const full = await runOpensslClient({ port: peer.port, serverName: "localhost", caFile: ca.certFile, alpn: ["test/1"], output: "full" });
    assert.equal(full.code, 0, full.stderr);
    assert.match(full.stdout, /^ALPN protocol: test\/1$/m);
    assert.match(full.stdout, /^Verify return code: 0 \(ok\)$/m);

    // The same server, asked for other.test, shows the other certificate, which verifies by that name.
    const byName = await runOpensslClient({ port: peer.port, serverName: "other.test", caFile: ca.certFile, input: "abc\n", until: "cba\n" });
    assert.equal(byName.code, 0, byName.stderr);
    assert.equal(byName.stdout, "cba\n");
    assert.match(byName.stderr, /^Peer certificate: CN = other\.test$/m);
    // And a name the certificate lacks fails verification.
    const wrong = await runOpensslClient({ port: peer.port, serverName: "nope.test", caFile: ca.certFile });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /hostname mismatch/);
  });

  it("s_server echo-lines sends bytes back; -Verify 1 takes only a client certificate from the CA", async () => {
    const { ca, server, client, untrustedClient } = await testCertificates();
    await using peer = await startOpensslServer({
      certFile: server.certFile,
      keyFile: server.keyFile,
      mode: "echo-lines",
      caFile: ca.certFile,
      verify: "require",
      tls13Only: true,
    });
    const line = "Q is not a command\n";
    const base = { port: peer.port, serverName: "localhost", caFile: ca.certFile, input: line, until: line };
    const alice = await runOpensslClient({ ...base, certFile: client.certFile, keyFile: client.keyFile });
    assert.equal(alice.code, 0, alice.stderr);
    assert.equal(alice.stdout, line);
    assert.match(alice.stderr, /^Protocol version: TLSv1\.3$/m);

    // Under TLS 1.3 the client hears of the refusal after its handshake, at its first read.
    const none = await runOpensslClient(base);
    assert.notEqual(none.code, 0);
    assert.equal(none.stdout, "");
    assert.match(none.stderr, /certificate required/);
    const stranger = await runOpensslClient({ ...base, certFile: untrustedClient.certFile, keyFile: untrustedClient.keyFile });
    assert.notEqual(stranger.code, 0);
    assert.match(stranger.stderr, /unknown ca/);
    // The server went on after the refusals.
    const again = await runOpensslClient({ ...base, certFile: client.certFile, keyFile: client.keyFile });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, line);
  });
});
