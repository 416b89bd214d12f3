/**
 * unisock as a TLS server: `openssl s_client` (tests/peers/openssl.ts) and unisock's own
 * client against a unisock TLS listener, with the test certificates (tests/peers/certs.ts),
 * on every driver this runtime can load.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { IpSocketAddress } from "../core/address.ts";
import type { Connection } from "../core/connection.ts";
import { SocketError } from "../core/errors.ts";
import type { Listener } from "../core/listener.ts";
import type { TlsClientOptions, TlsServerOptions } from "../core/tls.ts";
import { closedPort, networks, portOf, rejectsWith, readUntil } from "./helpers.ts";
import { testCertificates } from "./peers/certs.ts";
import { runOpensslClient } from "./peers/openssl.ts";

/** Bound of every single wait in these tests. */
const WAIT_MS = 10_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

type TlsConnection = Connection<IpSocketAddress>;


/** Reads to end of stream, bounded; returns the text. */
async function readToEnd(conn: Connection): Promise<string> {
  return await readUntil(conn, "\u0000never\u0000");
}

/** Sends back each line received, reversed, until end of stream (bounded); then closes. */
async function reverseLines(conn: Connection): Promise<void> {
  const buffer = new Uint8Array(4096);
  const signal = AbortSignal.timeout(WAIT_MS);
  const streamDecoder = new TextDecoder();
  let pending = "";
  try {
    let count: number | null;
    while ((count = await conn.read(buffer, { signal })) !== null) {
      pending += streamDecoder.decode(buffer.subarray(0, count), { stream: true });
      let end: number;
      while ((end = pending.indexOf("\n")) !== -1) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 1);
        await conn.write(encoder.encode(`${[...line].reverse().join("")}\n`));
      }
    }
  } finally {
    conn.close();
  }
}

/** The next accepted connection, or a rejection after `WAIT_MS` (the accept itself ends when the listener closes). */
function acceptWithin(listener: Listener<IpSocketAddress>): Promise<TlsConnection> {
  const accepted = listener.accept();
  accepted.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`nothing accepted within ${WAIT_MS} ms`)), WAIT_MS);
  });
  const result = Promise.race([accepted, late]).finally(() => clearTimeout(timer));
  // Marked handled: a test that fails before awaiting it reports its own failure.
  result.catch(() => {});
  return result;
}

/** Whether `promise` has settled after the event loop has had `ms` to run. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  promise.then(() => (settled = true), () => (settled = true));
  await new Promise((resolve) => setTimeout(resolve, ms));
  return settled;
}

/**
 * Asserts that the server refused this TLS client with a TLS alert: `connect` rejects with
 * `tls-handshake-failed`, or (TLS 1.3, where the client's handshake is over before the
 * server has checked its certificate) the connection's first read does.
 */
async function assertRefused(connecting: Promise<TlsConnection>, what: string): Promise<void> {
  let conn: TlsConnection;
  try {
    conn = await connecting;
  } catch (error) {
    assert.ok(error instanceof SocketError, `${what}: ${String(error)}`);
    assert.equal(error.code, "tls-handshake-failed", `${what}: ${error.message}`);
    return;
  }
  try {
    await rejectsWith(conn.read(new Uint8Array(100), { signal: AbortSignal.timeout(WAIT_MS) }), "tls-handshake-failed");
  } finally {
    conn.close();
  }
}

/**
 * Asserts that the server turned this TLS client away, with or without telling it why:
 * `connect` rejects with a TLS code, or the connection ends (end of stream or an error of
 * the connection) with no byte received.
 */
async function assertTurnedAway(connecting: Promise<TlsConnection>, what: string): Promise<void> {
  let conn: TlsConnection;
  try {
    conn = await connecting;
  } catch (error) {
    assert.ok(error instanceof SocketError, `${what}: ${String(error)}`);
    assert.match(error.code, /^tls-/, `${what}: ${error.message}`);
    return;
  }
  try {
    assert.equal((await untilEnded(conn)).length, 0, `${what}: no data`);
  } finally {
    conn.close();
  }
}

/** Reads, bounded, until the connection ends (end of stream or an error of the connection); returns what came. */
async function untilEnded(conn: Connection): Promise<Uint8Array> {
  const buffer = new Uint8Array(4096);
  const signal = AbortSignal.timeout(WAIT_MS);
  const received: number[] = [];
  try {
    let count: number | null;
    while ((count = await conn.read(buffer, { signal })) !== null) received.push(...buffer.subarray(0, count));
  } catch (error) {
    if (!(error instanceof SocketError)) throw error;
  }
  return Uint8Array.from(received);
}

for (const { name, net } of networks()) {
  describe(`TLS server (${name} driver)`, () => {
    async function listen(tls: Partial<TlsServerOptions> = {}): Promise<Listener<IpSocketAddress>> {
      const { server } = await testCertificates();
      return await net.tcp.listen({ hostname: "127.0.0.1", port: 0, tls: { cert: server.cert, key: server.key, ...tls } });
    }

    async function connect(listener: Listener<IpSocketAddress>, tls: TlsClientOptions): Promise<TlsConnection> {
      return await net.tcp.connect({ hostname: "127.0.0.1", port: portOf(listener) }, { tls, timeout: WAIT_MS });
    }

    it("serves openssl s_client: data both ways; tls reports the server name and no client certificate", async () => {
      const { ca } = await testCertificates();
      await using listener = await listen();
      const accepted = acceptWithin(listener);
      const client = runOpensslClient({
        port: portOf(listener),
        serverName: "localhost",
        caFile: ca.certFile,
        input: "hello unisock\nQ is no command\n",
        until: "dnammoc on si Q\n",
        timeoutMs: WAIT_MS,
      });
      try {
        const conn = await accepted;
        const info = conn.tls;
        assert.ok(info !== undefined);
        assert.equal(info.serverName, "localhost");
        assert.equal(info.peerCertificate, null);
        assert.equal(info.protocol, "TLSv1.3");
        assert.match(info.cipher, /^TLS_[A-Z0-9_]+$/);
        assert.equal(info.alpn, null);
        await reverseLines(conn);
      } finally {
        const result = await client;
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout, "kcosinu olleh\ndnammoc on si Q\n");
        assert.match(result.stderr, /^Verification: OK$/m);
        assert.match(result.stderr, /^Peer certificate: CN = localhost$/m);
      }
    });

    it("serves TLS 1.2 clients too", async () => {
      const { ca } = await testCertificates();
      await using listener = await listen();
      const accepted = acceptWithin(listener);
      const client = runOpensslClient({
        port: portOf(listener),
        serverName: "localhost",
        caFile: ca.certFile,
        tls12Only: true,
        input: "twelve\n",
        until: "evlewt\n",
        timeoutMs: WAIT_MS,
      });
      try {
        const conn = await accepted;
        assert.equal(conn.tls?.protocol, "TLSv1.2");
        assert.match(conn.tls?.cipher ?? "", /^TLS_[A-Z0-9_]+_WITH_[A-Z0-9_]+$/);
        await reverseLines(conn);
      } finally {
        const result = await client;
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout, "evlewt\n");
        assert.match(result.stderr, /^Protocol version: TLSv1\.2$/m);
      }
    });

    it("SNI: serves the certificate of the name asked for, and the default one otherwise", async () => {
      const { ca, server, other } = await testCertificates();
      await using listener = await listen({ sni: { "other.test": { cert: other.cert, key: other.key } } });

      const accepted = acceptWithin(listener);
      const client = runOpensslClient({
        port: portOf(listener),
        serverName: "other.test",
        caFile: ca.certFile,
        input: "abc\n",
        until: "cba\n",
        timeoutMs: WAIT_MS,
      });
      try {
        const conn = await accepted;
        assert.equal(conn.tls?.serverName, "other.test");
        await reverseLines(conn);
      } finally {
        const result = await client;
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout, "cba\n");
        assert.match(result.stderr, /^Peer certificate: CN = other\.test$/m);
        assert.match(result.stderr, /^Verification: OK$/m);
      }

      const cases: [TlsClientOptions, string | null, string][] = [
        [{ ca: ca.cert, serverName: "other.test" }, "other.test", other.fingerprint256],
        [{ ca: ca.cert, serverName: "localhost" }, "localhost", server.fingerprint256],
        // By IP, no SNI is sent: the default certificate, which names 127.0.0.1.
        [{ ca: ca.cert }, null, server.fingerprint256],
      ];
      for (const [options, serverName, fingerprint] of cases) {
        const accepting = acceptWithin(listener);
        await using conn = await connect(listener, options);
        await using peer = await accepting;
        assert.equal(conn.tls?.peerCertificate?.fingerprint256, fingerprint, String(serverName));
        assert.equal(conn.tls?.serverName, serverName);
        assert.equal(peer.tls?.serverName, serverName);
        await conn.write(encoder.encode("ping"));
        assert.equal(await readUntil(peer, "ping"), "ping");
      }
    });

    it('clientCertificate "require": takes a trusted client certificate, refuses none and an untrusted one', async () => {
      const { ca, client, untrustedClient } = await testCertificates();
      await using listener = await listen({ ca: ca.cert, clientCertificate: "require" });

      const accepted = acceptWithin(listener);
      const alice = runOpensslClient({
        port: portOf(listener),
        serverName: "localhost",
        caFile: ca.certFile,
        certFile: client.certFile,
        keyFile: client.keyFile,
        input: "alice\n",
        until: "ecila\n",
        timeoutMs: WAIT_MS,
      });
      try {
        const conn = await accepted;
        const peer = conn.tls?.peerCertificate;
        assert.ok(peer !== null && peer !== undefined);
        assert.equal(peer.subject, "CN=alice,O=Example");
        assert.equal(peer.issuer, "CN=unisock test CA");
        assert.equal(peer.fingerprint256, client.fingerprint256);
        assert.deepEqual(peer.der, client.der);
        assert.ok(peer.subjectAltNames.includes("email:alice@example.test"), String(peer.subjectAltNames));
        await reverseLines(conn);
      } finally {
        const result = await alice;
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout, "ecila\n");
      }

      // The refused ones: none of them comes out of accept().
      const next = acceptWithin(listener);
      for (const [what, files] of [["no certificate", {}], ["untrusted", { certFile: untrustedClient.certFile, keyFile: untrustedClient.keyFile }]] as const) {
        const result = await runOpensslClient({
          port: portOf(listener),
          serverName: "localhost",
          caFile: ca.certFile,
          ...files,
          input: "refused\n",
          until: "desufer\n",
          timeoutMs: WAIT_MS,
        });
        assert.equal(result.timedOut, false, `${what}: the server ended the connection`);
        assert.notEqual(result.code, 0, `${what}: ${result.stderr}`);
        assert.equal(result.stdout, "", what);
      }
      await assertRefused(connect(listener, { ca: ca.cert }), "unisock client without a certificate");
      await assertTurnedAway(
        connect(listener, { ca: ca.cert, cert: untrustedClient.cert, key: untrustedClient.key }),
        "unisock client with an untrusted certificate",
      );
      assert.equal(await settledWithin(next, 100), false, "accept() yielded a refused client");

      // The listener goes on: the next good client is the next accepted.
      await using good = await connect(listener, { ca: ca.cert, cert: client.cert, key: client.key, serverName: "localhost" });
      await using conn = await next;
      assert.equal(conn.tls?.peerCertificate?.fingerprint256, client.fingerprint256);
      await good.write(encoder.encode("good"));
      assert.equal(await readUntil(conn, "good"), "good");
    });

    it('clientCertificate "request": takes a client without a certificate or with a trusted one, refuses an untrusted one', async () => {
      const { ca, client, untrustedClient } = await testCertificates();
      await using listener = await listen({ ca: ca.cert, clientCertificate: "request" });
      {
        const accepted = acceptWithin(listener);
        await using anonymous = await connect(listener, { ca: ca.cert });
        await using conn = await accepted;
        assert.equal(conn.tls?.peerCertificate, null);
        await anonymous.write(encoder.encode("anonymous"));
        assert.equal(await readUntil(conn, "anonymous"), "anonymous");
      }
      const next = acceptWithin(listener);
      await assertTurnedAway(
        connect(listener, { ca: ca.cert, cert: untrustedClient.cert, key: untrustedClient.key }),
        "a client with an untrusted certificate",
      );
      assert.equal(await settledWithin(next, 100), false, "accept() yielded a client with an untrusted certificate");
      await using alice = await connect(listener, { ca: ca.cert, cert: client.cert, key: client.key });
      await using conn = await next;
      const peer = conn.tls?.peerCertificate;
      assert.equal(peer?.subject, "CN=alice,O=Example");
      assert.equal(peer?.fingerprint256, client.fingerprint256);
      await alice.write(encoder.encode("alice"));
      assert.equal(await readUntil(conn, "alice"), "alice");

      // s_client with the certificate, as well.
      const accepted = acceptWithin(listener);
      const bob = runOpensslClient({
        port: portOf(listener),
        serverName: "localhost",
        caFile: ca.certFile,
        certFile: client.certFile,
        keyFile: client.keyFile,
        input: "bob\n",
        until: "bob\n",
        timeoutMs: WAIT_MS,
      });
      try {
        const served = await accepted;
        assert.equal(served.tls?.peerCertificate?.fingerprint256, client.fingerprint256);
        await reverseLines(served);
      } finally {
        const result = await bob;
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout, "bob\n");
      }
    });

    it("a client refused for an untrusted certificate hears of it: tls-handshake-failed, as from openssl s_server", async () => {
      // SPEC, Errors: tls-handshake-failed covers "a required client certificate missing or
      // refused". Under TLS 1.3 the client's handshake is over before the server has checked
      // its certificate, so the refusal (an alert, as s_server sends "unknown ca") reaches it
      // at its first read; a bare close would be indistinguishable from a normal end.
      const { ca, untrustedClient } = await testCertificates();
      for (const clientCertificate of ["require", "request"] as const) {
        await using listener = await listen({ ca: ca.cert, clientCertificate });
        await assertRefused(
          connect(listener, { ca: ca.cert, cert: untrustedClient.cert, key: untrustedClient.key }),
          `clientCertificate "${clientCertificate}"`,
        );
      }
    });

    it("failed handshakes never stop the listener: garbage, a client gone mid-handshake, a client that does not trust it", async () => {
      const { ca, untrustedCa } = await testCertificates();
      await using listener = await listen();
      const next = acceptWithin(listener);
      const address = { hostname: "127.0.0.1", port: portOf(listener) };
      {
        await using plain = await net.tcp.connect(address, { timeout: WAIT_MS });
        await plain.write(encoder.encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
        const answer = await untilEnded(plain);
        assert.ok(!decoder.decode(answer).includes("HTTP"), "no plaintext answer");
      }
      {
        await using plain = await net.tcp.connect(address, { timeout: WAIT_MS });
        // A handshake record header announcing 512 bytes, and the first of them: then gone.
        await plain.write(Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03));
      }
      await rejectsWith(net.tcp.connect(address, { tls: { ca: untrustedCa.cert, serverName: "localhost" }, timeout: WAIT_MS }), "tls-certificate-untrusted");
      assert.equal(await settledWithin(next, 100), false, "accept() yielded a failed handshake");

      await using good = await net.tcp.connect(address, { tls: { ca: ca.cert, serverName: "localhost" }, timeout: WAIT_MS });
      await using conn = await next;
      await good.write(encoder.encode("still here"));
      assert.equal(await readUntil(conn, "still here"), "still here");
      await conn.write(encoder.encode("yes"));
      await conn.closeWrite();
      assert.equal(await readToEnd(good), "yes");
    });

    it("a failed handshake does not take down the handshake of the client after it", async () => {
      // Each failed client is followed at once by a good one, whose handshake is then the
      // only one under way: the failure must stay with its own connection.
      const { ca } = await testCertificates();
      await using listener = await listen();
      const address = { hostname: "127.0.0.1", port: portOf(listener) };
      const failures: [string, () => Promise<void>][] = [
        ["garbage", async () => {
          await using plain = await net.tcp.connect(address, { timeout: WAIT_MS });
          await plain.write(encoder.encode("GET / HTTP/1.1\r\n\r\n"));
          await untilEnded(plain);
        }],
        ["gone mid-handshake", async () => {
          await using plain = await net.tcp.connect(address, { timeout: WAIT_MS });
          await plain.write(Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03));
        }],
      ];
      for (let round = 0; round < 3; round++) {
        for (const [what, fail] of failures) {
          const accepted = acceptWithin(listener);
          await fail();
          try {
            await using good = await connect(listener, { ca: ca.cert, serverName: "localhost" });
            await using conn = await accepted;
            await good.write(encoder.encode(what));
            assert.equal(await readUntil(conn, what), what);
          } catch (error) {
            throw new Error(`the good client after one ${what} (round ${round}) failed: ${String(error)}`, { cause: error });
          }
        }
      }
    });

    it("ALPN: the server's preference wins, and both sides report it", async () => {
      const { ca } = await testCertificates();
      await using listener = await listen({ alpn: ["h2", "http/1.1"] });
      const accepted = acceptWithin(listener);
      await using conn = await connect(listener, { ca: ca.cert, alpn: ["http/1.1", "h2"] });
      await using peer = await accepted;
      assert.equal(conn.tls?.alpn, "h2");
      assert.equal(peer.tls?.alpn, "h2");
    });

    it("rejects bad TLS options of tcp.listen with invalid-argument naming the culprit, and binds nothing", async () => {
      const { ca, server, other } = await testCertificates();
      const port = await closedPort(net);
      const bad: [string, unknown, RegExp][] = [
        ["malformed PEM in cert", { cert: "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n", key: server.key }, /tls\.cert/],
        ["a cert that does not parse", { cert: "-----BEGIN CERTIFICATE-----\nAAAAAAAAAAAA\n-----END CERTIFICATE-----\n", key: server.key }, /tls\.cert/],
        ["no PEM key", { cert: server.cert, key: "not a key" }, /tls\.key/],
        ["a key that is not the cert's", { cert: server.cert, key: other.key }, /tls\.key/],
        ["an SNI key that is not its cert's", { cert: server.cert, key: server.key, sni: { "other.test": { cert: other.cert, key: server.key } } }, /tls\.sni/],
        ["an empty alpn", { cert: server.cert, key: server.key, alpn: [] }, /tls\.alpn/],
        ['clientCertificate "require" without ca', { cert: server.cert, key: server.key, clientCertificate: "require" }, /tls\.ca/],
        ["an unknown clientCertificate", { cert: server.cert, key: server.key, ca: ca.cert, clientCertificate: "sometimes" }, /tls\.clientCertificate/],
      ];
      for (const [what, tls, culprit] of bad) {
        const error = await rejectsWith(
          net.tcp.listen({ hostname: "127.0.0.1", port, tls: tls as TlsServerOptions }),
          "invalid-argument",
        );
        assert.match(error.message, culprit, what);
        assert.match(error.message, /tcp\.listen/, what);
      }
      // Nothing was left bound to the port.
      await using free = await net.tcp.listen({ hostname: "127.0.0.1", port });
      assert.equal(portOf(free), port);
    });

    it("rejects bad TLS options of tcp.connect with invalid-argument naming the culprit, before connecting", async () => {
      const { client, other } = await testCertificates();
      // Nothing listens there: an option checked only after connecting would give connection-refused.
      const port = await closedPort(net);
      const bad: [string, unknown, RegExp][] = [
        ["malformed PEM in ca", { ca: "-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n" }, /tls\.ca/],
        ["a ca that does not parse", { ca: "-----BEGIN CERTIFICATE-----\nAAAAAAAAAAAA\n-----END CERTIFICATE-----\n" }, /tls\.ca/],
        ["a client key that is not the cert's", { cert: client.cert, key: other.key }, /tls\.key/],
        ["a cert without key", { cert: client.cert }, /tls\.key/],
        ["an empty alpn", { alpn: [] }, /tls\.alpn/],
        ["a server name that is not one", { serverName: "not a name!" }, /tls\.serverName/],
      ];
      for (const [what, tls, culprit] of bad) {
        const error = await rejectsWith(
          net.tcp.connect({ hostname: "127.0.0.1", port }, { tls: tls as TlsClientOptions, timeout: WAIT_MS }),
          "invalid-argument",
        );
        assert.match(error.message, culprit, what);
        assert.match(error.message, /tcp\.connect/, what);
      }
    });
  });
}
