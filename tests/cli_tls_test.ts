/**
 * The `unisock` CLI's tls:// addresses (connect, listen, proxy) against real TLS peers:
 * `openssl s_server` and `openssl s_client` (tests/peers/openssl.ts), with the test
 * certificates of tests/peers/certs.ts. The CLI runs as a child process on the runtime
 * that runs the test (tests/cli_helpers.ts).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { unix } from "../mod.ts";
import { killAll, runCli, startCli, text } from "./cli_helpers.ts";
import { testCertificates } from "./peers/certs.ts";
import { runOpensslClient, startOpensslServer } from "./peers/openssl.ts";
import type { OpensslServer } from "./peers/openssl.ts";
import { serveEcho } from "./unix_helpers.ts";

const dir = mkdtempSync("/tmp/unisock-cli-tls-");

describe("cli: tls", () => {
  after(async () => {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The line `connect` prints once the handshake is done. */
  const sessionLine = (name: string, subject: string, fingerprint: string) =>
    new RegExp(
      `^unisock: TLSv1\\.[23] TLS_[A-Z0-9_]+ to ${name.replaceAll(".", "\\.")}, certificate ${subject} \\(sha256 ${fingerprint.slice(0, 16)}\\)$`,
      "m",
    );

  /** `openssl s_server -rev` with the server certificate (CN=localhost, IP:127.0.0.1), until `close()`. */
  async function reversingServer(): Promise<OpensslServer> {
    const { server } = await testCertificates();
    return startOpensslServer({ certFile: server.certFile, keyFile: server.keyFile, mode: "rev" });
  }

  describe("cli: connect tls://", () => {
    it("talks to openssl s_server with --ca: the line reversed, and the session on stderr", async () => {
      const { ca, server } = await testCertificates();
      const peer = await reversingServer();
      try {
        const result = await runCli(["connect", `tls://localhost:${peer.port}`, "--ca", ca.certFile], "hello\n");
        assert.equal(result.code, 0, result.stderr);
        assert.equal(text(result), "olleh\n");
        assert.match(result.stderr, sessionLine("localhost", "CN=localhost", server.fingerprint256));
        // An IP address must be named by the certificate: this one names 127.0.0.1.
        const byIp = await runCli(["connect", `tls://127.0.0.1:${peer.port}`, `--ca=${ca.certFile}`], "abc\n");
        assert.equal(byIp.code, 0, byIp.stderr);
        assert.equal(text(byIp), "cba\n");
        assert.match(byIp.stderr, sessionLine("127.0.0.1", "CN=localhost", server.fingerprint256));
      } finally {
        await peer.close();
      }
    });

    it("without --ca (the runtime's trust store) the test CA is unknown: exit 1, tls-certificate-untrusted", async () => {
      const peer = await reversingServer();
      try {
        const result = await runCli(["connect", `tls://localhost:${peer.port}`], "hello\n");
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, /^unisock: tls-certificate-untrusted: /m);
        assert.equal(text(result), "");
        // Trusting another CA is no better.
        const { untrustedCa } = await testCertificates();
        const other = await runCli(["connect", `tls://localhost:${peer.port}`, "--ca", untrustedCa.certFile], "hello\n");
        assert.equal(other.code, 1, other.stderr);
        assert.match(other.stderr, /^unisock: tls-certificate-untrusted: /m);
      } finally {
        await peer.close();
      }
    });

    it("--allow-outbound takes tcp:// rules for a tls:// address", async () => {
      const { ca } = await testCertificates();
      const peer = await reversingServer();
      try {
        const target = `tls://127.0.0.1:${peer.port}`;
        const allowed = await runCli(["connect", target, "--ca", ca.certFile, `--allow-outbound=tcp://127.0.0.1:${peer.port}`], "ok\n");
        assert.equal(allowed.code, 0, allowed.stderr);
        assert.equal(text(allowed), "ko\n");
        const denied = await runCli(["connect", target, "--ca", ca.certFile, "--allow-outbound=tcp://127.0.0.1:1"], "no\n");
        assert.equal(denied.code, 1);
        assert.match(denied.stderr, /^unisock: access-denied: tcp\.connect /m);
      } finally {
        await peer.close();
      }
    });
  });

  describe("cli: listen tls://", () => {
    it("--echo serves openssl s_client, until SIGTERM", async () => {
      const { ca, server } = await testCertificates();
      const cli = startCli(["listen", "tls://127.0.0.1:0", "--cert", server.certFile, "--key", server.keyFile, "--echo"]);
      try {
        const [, port] = await cli.stderrMatch(/listening on tls:\/\/127\.0\.0\.1:(\d+)/);
        for (const line of ["hello over TLS\n", "and again\n"]) {
          const client = await runOpensslClient({ port: Number(port), serverName: "localhost", caFile: ca.certFile, input: line, until: line });
          assert.equal(client.timedOut, false);
          assert.equal(client.code, 0, client.stderr);
          assert.equal(client.stdout, line);
          assert.match(client.stderr, /^Verification: OK$/m);
        }
        cli.kill("SIGTERM");
        const ended = await cli.done;
        assert.equal(ended.code, 0, ended.stderr);
      } finally {
        cli.kill();
      }
    });

    it("--client-cert require --ca: a client with a certificate from the CA is served, others are refused", async () => {
      const { ca, server, client, untrustedClient } = await testCertificates();
      const cli = startCli([
        "listen", "tls://127.0.0.1:0", "--cert", server.certFile, "--key", server.keyFile,
        "--ca", ca.certFile, "--client-cert", "require", "--echo",
      ]);
      try {
        const [, port] = await cli.stderrMatch(/listening on tls:\/\/127\.0\.0\.1:(\d+)/);
        const line = "alice here\n";
        const base = { port: Number(port), serverName: "localhost", caFile: ca.certFile, input: line, until: line };
        const alice = await runOpensslClient({ ...base, certFile: client.certFile, keyFile: client.keyFile });
        assert.equal(alice.code, 0, alice.stderr);
        assert.equal(alice.stdout, line);
        const none = await runOpensslClient(base);
        assert.equal(none.timedOut, false);
        assert.notEqual(none.code, 0);
        assert.equal(none.stdout, "");
        const stranger = await runOpensslClient({ ...base, certFile: untrustedClient.certFile, keyFile: untrustedClient.keyFile });
        assert.equal(stranger.timedOut, false);
        assert.notEqual(stranger.code, 0);
        assert.equal(stranger.stdout, "");
        // The refusals ended those connections only.
        const again = await runOpensslClient({ ...base, certFile: client.certFile, keyFile: client.keyFile });
        assert.equal(again.code, 0, again.stderr);
        assert.equal(again.stdout, line);
        cli.kill("SIGTERM");
        assert.equal((await cli.done).code, 0);
      } finally {
        cli.kill();
      }
    });

    it("without --echo: one client on stdin/stdout, its certificate (--client-cert request) on stderr", async () => {
      const { ca, server, client } = await testCertificates();
      const cli = startCli([
        "listen", "tls://127.0.0.1:0", "--cert", server.certFile, "--key", server.keyFile,
        "--ca", ca.certFile, "--client-cert", "request",
      ], "open");
      try {
        const [, port] = await cli.stderrMatch(/listening on tls:\/\/127\.0\.0\.1:(\d+)/);
        // s_client sends its input, then close_notify when its stdin ends: the CLI then exits.
        const alice = await runOpensslClient({
          port: Number(port), serverName: "localhost", caFile: ca.certFile,
          certFile: client.certFile, keyFile: client.keyFile, input: "from openssl\n",
        });
        assert.equal(alice.code, 0, alice.stderr);
        const result = await cli.done;
        assert.equal(result.code, 0, result.stderr);
        assert.equal(text(result), "from openssl\n");
        assert.match(
          result.stderr,
          new RegExp(`^unisock: TLSv1\\.[23] \\S+ from tcp://127\\.0\\.0\\.1:\\d+, client certificate CN=alice,O=Example \\(sha256 ${client.fingerprint256.slice(0, 16)}\\)$`, "m"),
        );
      } finally {
        cli.kill();
      }
    });
  });

  describe("cli: proxy with tls://", () => {
    it("terminates TLS in front of a Unix socket service (like stunnel)", async () => {
      const { ca, server } = await testCertificates();
      const path = join(dir, "app.sock");
      const backend = await unix.listen(path);
      const served = serveEcho(backend);
      const proxy = startCli(["proxy", "tls://127.0.0.1:0", `unix:${path}`, "--cert", server.certFile, "--key", server.keyFile]);
      try {
        const [, port] = await proxy.stderrMatch(/proxying tls:\/\/127\.0\.0\.1:(\d+) to unix:/);
        const line = "through the proxy\n";
        const client = await runOpensslClient({ port: Number(port), serverName: "localhost", caFile: ca.certFile, input: line, until: line });
        assert.equal(client.code, 0, client.stderr);
        assert.equal(client.stdout, line);
        proxy.kill("SIGINT");
        const ended = await proxy.done;
        assert.equal(ended.code, 0, ended.stderr);
      } finally {
        proxy.kill();
        backend.close();
        await served;
      }
    });

    it("originates TLS: tcp:// in front of openssl s_server; an untrusted upstream is reported", async () => {
      const { ca } = await testCertificates();
      const peer = await reversingServer();
      const proxy = startCli(["proxy", "tcp://127.0.0.1:0", `tls://localhost:${peer.port}`, "--ca", ca.certFile]);
      const untrusting = startCli(["proxy", "tcp://127.0.0.1:0", `tls://localhost:${peer.port}`]);
      try {
        const [, port] = await proxy.stderrMatch(/proxying tcp:\/\/127\.0\.0\.1:(\d+) to tls:/);
        const result = await runCli(["connect", `tcp://127.0.0.1:${port}`], "plain in, TLS out\n");
        assert.equal(result.code, 0, result.stderr);
        assert.equal(text(result), "tuo SLT ,ni nialp\n");

        const [, other] = await untrusting.stderrMatch(/proxying tcp:\/\/127\.0\.0\.1:(\d+) to tls:/);
        // Nothing sent: a connection closed with unread bytes would be reset, not ended.
        const refused = await runCli(["connect", `tcp://127.0.0.1:${other}`]);
        assert.equal(refused.code, 0, refused.stderr);
        assert.equal(text(refused), "");
        await untrusting.stderrMatch(/^unisock: tls-certificate-untrusted: /m);
        for (const cli of [proxy, untrusting]) {
          cli.kill("SIGTERM");
          assert.equal((await cli.done).code, 0);
        }
      } finally {
        proxy.kill();
        untrusting.kill();
        await peer.close();
      }
    });

    it("tls:// to tls://: --cert/--key are FROM's, --ca checks TO", async () => {
      const { ca, server } = await testCertificates();
      const peer = await reversingServer();
      const proxy = startCli([
        "proxy", "tls://127.0.0.1:0", `tls://localhost:${peer.port}`,
        "--cert", server.certFile, "--key", server.keyFile, "--ca", ca.certFile,
      ]);
      try {
        const [, port] = await proxy.stderrMatch(/proxying tls:\/\/127\.0\.0\.1:(\d+) to tls:/);
        const result = await runCli(["connect", `tls://localhost:${port}`, "--ca", ca.certFile], "twice\n");
        assert.equal(result.code, 0, result.stderr);
        assert.equal(text(result), "eciwt\n");
        proxy.kill("SIGTERM");
        assert.equal((await proxy.done).code, 0);
      } finally {
        proxy.kill();
        await peer.close();
      }
    });
  });

  describe("cli: tls usage and bad files", () => {
    it("a missing --cert file is a usage error naming the file", async () => {
      const { server } = await testCertificates();
      const missing = join(dir, "no-such-cert.pem");
      const result = await runCli(["listen", "tls://127.0.0.1:0", "--cert", missing, "--key", server.keyFile, "--echo"]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /^unisock: --cert .*no-such-cert\.pem: cannot read it: no such file$/m);
      assert.match(result.stderr, /^usage: unisock listen /m);
      const ca = await runCli(["connect", "tls://localhost:1", "--ca", missing]);
      assert.equal(ca.code, 2, ca.stderr);
      assert.match(ca.stderr, /no-such-cert\.pem/);
    });

    it("a file without valid PEM is the library's invalid-argument, before any socket (exit 1)", async () => {
      const { ca, server } = await testCertificates();
      const notACert = await runCli(["listen", "tls://127.0.0.1:0", "--cert", server.keyFile, "--key", server.keyFile, "--echo"]);
      assert.equal(notACert.code, 1, notACert.stderr);
      assert.match(notACert.stderr, /^unisock: invalid-argument: tcp\.listen: tls\.cert /m);
      const wrongKey = await runCli(["connect", "tls://localhost:1", "--ca", ca.certFile, "--cert", server.certFile, "--key", ca.keyFile]);
      assert.equal(wrongKey.code, 1, wrongKey.stderr);
      assert.match(wrongKey.stderr, /^unisock: invalid-argument: tcp\.connect: tls\.key /m);
      // proxy checks TO's options before it listens.
      const upstream = await runCli(["proxy", "tcp://127.0.0.1:0", "tls://localhost:1", "--ca", server.keyFile]);
      assert.equal(upstream.code, 1, upstream.stderr);
      assert.match(upstream.stderr, /^unisock: invalid-argument: tcp\.connect: tls\.ca /m);
      assert.doesNotMatch(upstream.stderr, /proxying/);
    });

    const bad: [string, string[], RegExp][] = [
      ["a tls:// server without --key", ["listen", "tls://127.0.0.1:0", "--cert", "c.pem"], /needs --cert FILE and --key FILE/],
      ["--client-cert without --ca", ["listen", "tls://127.0.0.1:0", "--cert", "c.pem", "--key", "k.pem", "--client-cert", "require"], /needs --ca/],
      ["a bad --client-cert", ["listen", "tls://127.0.0.1:0", "--cert", "c.pem", "--key", "k.pem", "--ca", "a.pem", "--client-cert", "maybe"], /--client-cert takes/],
      ["--ca on a listener without --client-cert", ["listen", "tls://127.0.0.1:0", "--cert", "c.pem", "--key", "k.pem", "--ca", "a.pem"], /--client-cert/],
      ["TLS flags on a tcp:// address", ["connect", "tcp://127.0.0.1:80", "--ca", "a.pem"], /--ca is for a tls:/],
      ["TLS flags on a unix: listener", ["listen", "unix:/tmp/x.sock", "--cert", "c.pem", "--key", "k.pem"], /--cert is for a tls:/],
      ["--client-cert on connect", ["connect", "tls://localhost:443", "--client-cert", "require"], /--client-cert is for a TLS server/],
      ["--cert without --key on connect", ["connect", "tls://localhost:443", "--cert", "c.pem"], /--cert and --key go together/],
      ["--client-cert on a proxy that originates TLS", ["proxy", "tcp://127.0.0.1:0", "tls://localhost:443", "--client-cert", "request"], /--client-cert is for a TLS server/],
      ["TLS flags on a proxy without tls://", ["proxy", "tcp://127.0.0.1:0", "unix:/tmp/x.sock", "--key", "k.pem"], /--key is for a tls:/],
      ["tls:// with no port", ["connect", "tls://localhost"], /not an address/],
    ];
    for (const [what, args, message] of bad) {
      it(`${what}: exit 2, usage on stderr`, async () => {
        const result = await runCli(args);
        assert.equal(result.code, 2, result.stderr);
        assert.match(result.stderr, message);
        assert.match(result.stderr, /^usage: unisock /m);
        assert.equal(text(result), "");
      });
    }

    it("--help of connect, listen and proxy describes tls://", async () => {
      for (const command of ["connect", "listen", "proxy"]) {
        const result = await runCli([command, "--help"]);
        assert.equal(result.code, 0, result.stderr);
        assert.match(text(result), /tls:\/\/HOST:PORT/);
        assert.match(text(result), /--cert FILE/);
      }
      assert.match(text(await runCli(["--help"])), /tls:\/\/HOST:PORT/);
    });
  });
});
