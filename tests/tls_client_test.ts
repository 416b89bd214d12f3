/**
 * unisock as a TLS client: against `openssl s_server` (tests/peers/openssl.ts) with the
 * test certificates (tests/peers/certs.ts), and against unisock's own TLS listener, on
 * every driver this runtime can load.
 */
import { createHash } from "node:crypto";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { IpSocketAddress } from "../core/address.ts";
import type { Connection } from "../core/connection.ts";
import { SocketError } from "../core/errors.ts";
import type { Network } from "../network/network.ts";
import { drain, echo, networks, portOf, rejectsWith, sendPattern, readUntil } from "./helpers.ts";
import { testCertificates } from "./peers/certs.ts";
import type { TestCertificate } from "./peers/certs.ts";
import { startOpensslServer } from "./peers/openssl.ts";
import type { OpensslServerOptions } from "./peers/openssl.ts";

const MiB = 1024 * 1024;
/** Bound of every single wait for bytes in these tests. */
const WAIT_MS = 10_000;
/** Bound of a whole connect (with its handshake). */
const CONNECT_MS = 10_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();


/** Reads to end of stream, bounded; returns the bytes. */
async function readToEnd(conn: Connection): Promise<Uint8Array> {
  const buffer = new Uint8Array(64 * 1024);
  const signal = AbortSignal.timeout(WAIT_MS);
  const chunks: number[] = [];
  let count: number | null;
  while ((count = await conn.read(buffer, { signal })) !== null) chunks.push(...buffer.subarray(0, count));
  return Uint8Array.from(chunks);
}

/** `promise`, or a rejection saying `what` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts s_server with the certificate `cert` (and its key). */
function serve(cert: TestCertificate, options: Partial<OpensslServerOptions> = {}) {
  return startOpensslServer({ certFile: cert.certFile, keyFile: cert.keyFile, mode: "rev", ...options });
}

/** Asserts the peer certificate reported equals `expected` (as openssl reads it). */
function assertCertificate(actual: unknown, expected: TestCertificate): void {
  assert.ok(actual !== null && typeof actual === "object", "a peer certificate");
  const peer = actual as Record<string, unknown>;
  assert.equal(peer.subject, expected.subject);
  assert.equal(peer.issuer, expected.issuer);
  assert.equal(peer.fingerprint256, expected.fingerprint256);
  assert.deepEqual(peer.der, expected.der);
  assert.ok(peer.validFrom instanceof Date && peer.validTo instanceof Date);
  assert.equal((peer.validFrom as Date).getTime(), expected.validFrom.getTime());
  assert.equal((peer.validTo as Date).getTime(), expected.validTo.getTime());
}

/** Writes a line and reads the reversed line s_server -rev sends back. */
async function assertReversed(conn: Connection, line: string): Promise<void> {
  await conn.write(encoder.encode(`${line}\n`));
  const reversed = [...line].reverse().join("");
  assert.equal(await readUntil(conn, "\n"), `${reversed}\n`);
}

/** `listener.accept()`, marked handled so that a test failing before it awaits it reports its own failure. */
function acceptOne<T>(listener: { accept(): Promise<T> }): Promise<T> {
  const accepted = listener.accept();
  accepted.catch(() => {});
  return accepted;
}

/** A plaintext unisock listener on 127.0.0.1. */
function plainListener(net: Network) {
  return net.tcp.listen({ hostname: "127.0.0.1", port: 0 });
}

for (const { name, net } of networks()) {
  describe(`TLS client (${name} driver)`, () => {
    describe("against openssl s_server", () => {
      it("connects by name with its own CA: data, protocol, cipher, server name, peer certificate", async () => {
        const { ca, server } = await testCertificates();
        await using peer = await serve(server);
        await using conn = await net.tcp.connect(
          { hostname: "localhost", port: peer.port },
          { tls: { ca: ca.cert }, timeout: CONNECT_MS },
        );
        await assertReversed(conn, "hello over TLS");
        const info = conn.tls;
        assert.ok(info !== undefined);
        assert.equal(info.protocol, "TLSv1.3");
        assert.match(info.cipher, /^TLS_[A-Z0-9_]+$/);
        assert.equal(info.serverName, "localhost");
        assert.equal(info.alpn, null);
        assertCertificate(info.peerCertificate, server);
        const altNames = info.peerCertificate?.subjectAltNames ?? [];
        for (const altName of ["DNS:localhost", "IP:127.0.0.1", "IP:::1"]) assert.ok(altNames.includes(altName), `${altName} in ${altNames}`);
      });

      it("reports TLSv1.2 and an IANA cipher name against a TLS 1.2-only server", async () => {
        const { ca, server } = await testCertificates();
        await using peer = await serve(server, { tls12Only: true });
        await using conn = await net.tcp.connect({ hostname: "localhost", port: peer.port }, { tls: { ca: ca.cert }, timeout: CONNECT_MS });
        await assertReversed(conn, "one two");
        assert.equal(conn.tls?.protocol, "TLSv1.2");
        assert.match(conn.tls?.cipher ?? "", /^TLS_[A-Z0-9_]+_WITH_[A-Z0-9_]+$/);
        assertCertificate(conn.tls?.peerCertificate, server);
      });

      it("connects by IP without serverName (the certificate names the IP) and with serverName localhost", async () => {
        const { ca, server } = await testCertificates();
        await using peer = await serve(server);
        {
          await using conn = await net.tcp.connect({ hostname: "127.0.0.1", port: peer.port }, { tls: { ca: ca.cert }, timeout: CONNECT_MS });
          await assertReversed(conn, "by IP");
          assert.equal(conn.tls?.serverName, null);
          assertCertificate(conn.tls?.peerCertificate, server);
        }
        {
          await using conn = await net.tcp.connect(
            { hostname: "127.0.0.1", port: peer.port },
            { tls: { ca: ca.cert, serverName: "localhost" }, timeout: CONNECT_MS },
          );
          await assertReversed(conn, "by IP, named");
          assert.equal(conn.tls?.serverName, "localhost");
          assertCertificate(conn.tls?.peerCertificate, server);
        }
      });

      it("rejects a certificate that does not name the server: tls-certificate-name-mismatch", async () => {
        const { ca, server, other } = await testCertificates();
        {
          await using peer = await serve(server);
          const error = await rejectsWith(
            net.tcp.connect({ hostname: "127.0.0.1", port: peer.port }, { tls: { ca: ca.cert, serverName: "nope.test" }, timeout: CONNECT_MS }),
            "tls-certificate-name-mismatch",
          );
          assert.match(error.message, /tcp\.connect/);
        }
        {
          await using peer = await serve(other);
          await rejectsWith(
            net.tcp.connect({ hostname: "localhost", port: peer.port }, { tls: { ca: ca.cert }, timeout: CONNECT_MS }),
            "tls-certificate-name-mismatch",
          );
        }
      });

      it("rejects an untrusted issuer, a self-signed and an expired certificate: tls-certificate-untrusted", async () => {
        const { ca, untrusted, selfSigned, expired } = await testCertificates();
        for (const cert of [untrusted, selfSigned, expired]) {
          await using peer = await serve(cert);
          const error = await rejectsWith(
            net.tcp.connect({ hostname: "localhost", port: peer.port }, { tls: { ca: ca.cert }, timeout: CONNECT_MS }),
            "tls-certificate-untrusted",
          );
          assert.ok(error.cause !== undefined, "the runtime's own error is the cause");
          // The message names the server asked for, not only the address it resolved to, and
          // carries no runtime's own advice.
          assert.match(error.message, new RegExp(`^tcp\\.connect localhost:${peer.port}: `));
          assert.doesNotMatch(error.message, /--use-system-ca|root CA is installed/);
        }
      });

      it("tls: true uses the runtime's trust store, which does not hold the test CA: tls-certificate-untrusted", async () => {
        const { server } = await testCertificates();
        await using peer = await serve(server);
        await rejectsWith(
          net.tcp.connect({ hostname: "localhost", port: peer.port }, { tls: true, timeout: CONNECT_MS }),
          "tls-certificate-untrusted",
        );
      });

      it("a server that requires a client certificate refuses one without or an untrusted one (at the first read under TLS 1.3), takes a good one", async () => {
        const { ca, server, client, untrustedClient } = await testCertificates();
        await using peer = await serve(server, { caFile: ca.certFile, verify: "require", tls13Only: true });
        let conn: Connection<IpSocketAddress> | undefined;
        try {
          conn = await net.tcp.connect({ hostname: "localhost", port: peer.port }, { tls: { ca: ca.cert }, timeout: CONNECT_MS });
        } catch (error) {
          assert.ok(error instanceof SocketError, String(error));
          assert.equal(error.code, "tls-handshake-failed");
        }
        if (conn !== undefined) {
          try {
            assert.equal(conn.tls?.protocol, "TLSv1.3");
            await rejectsWith(conn.read(new Uint8Array(100), { signal: AbortSignal.timeout(WAIT_MS) }), "tls-handshake-failed");
          } finally {
            conn.close();
          }
        }
        // A certificate from an issuer the server does not trust: s_server answers "unknown ca".
        let stranger: Connection<IpSocketAddress> | undefined;
        try {
          stranger = await net.tcp.connect(
            { hostname: "localhost", port: peer.port },
            { tls: { ca: ca.cert, cert: untrustedClient.cert, key: untrustedClient.key }, timeout: CONNECT_MS },
          );
        } catch (error) {
          assert.ok(error instanceof SocketError, String(error));
          assert.equal(error.code, "tls-handshake-failed");
        }
        if (stranger !== undefined) {
          try {
            await rejectsWith(stranger.read(new Uint8Array(100), { signal: AbortSignal.timeout(WAIT_MS) }), "tls-handshake-failed");
          } finally {
            stranger.close();
          }
        }
        await using alice = await net.tcp.connect(
          { hostname: "localhost", port: peer.port },
          { tls: { ca: ca.cert, cert: client.cert, key: client.key }, timeout: CONNECT_MS },
        );
        await assertReversed(alice, "alice is in");
        assertCertificate(alice.tls?.peerCertificate, server);
      });

      it("negotiates ALPN: the protocol both offer, or null without ALPN", async () => {
        const { ca, server } = await testCertificates();
        await using peer = await serve(server, { alpn: ["h2", "http/1.1"] });
        {
          await using conn = await net.tcp.connect(
            { hostname: "localhost", port: peer.port },
            { tls: { ca: ca.cert, alpn: ["http/1.1"] }, timeout: CONNECT_MS },
          );
          assert.equal(conn.tls?.alpn, "http/1.1");
          await assertReversed(conn, "alpn");
        }
        {
          await using conn = await net.tcp.connect({ hostname: "localhost", port: peer.port }, { tls: { ca: ca.cert }, timeout: CONNECT_MS });
          assert.equal(conn.tls?.alpn, null);
          await assertReversed(conn, "no alpn");
        }
      });
    });

    describe("against peers that do not finish the handshake", () => {
      it("a plaintext peer that greets first: tls-handshake-failed", async () => {
        const { ca } = await testCertificates();
        await using listener = await plainListener(net);
        const serving = (async () => {
          await using conn = await listener.accept();
          await conn.write(encoder.encode("220 hello\r\n"));
          try {
            await readToEnd(conn);
          } catch {
            // A reset, or the bound: either way the client has given up.
          }
        })();
        try {
          await rejectsWith(
            net.tcp.connect({ hostname: "localhost", port: portOf(listener) }, { tls: { ca: ca.cert }, timeout: CONNECT_MS }),
            "tls-handshake-failed",
          );
        } finally {
          await serving;
        }
      });

      it("an AbortSignal during the handshake rejects with exactly its reason, and closes the socket", async () => {
        const { ca } = await testCertificates();
        await using listener = await plainListener(net);
        const accepted = acceptOne(listener);
        const controller = new AbortController();
        const reason = new Error("stop the handshake");
        const timer = setTimeout(() => controller.abort(reason), 100);
        const started = Date.now();
        try {
          await assert.rejects(
            net.tcp.connect({ hostname: "localhost", port: portOf(listener) }, { tls: { ca: ca.cert }, signal: controller.signal }),
            (error) => error === reason,
          );
        } finally {
          clearTimeout(timer);
        }
        assert.ok(Date.now() - started < 5000, "rejected when aborted, not later");
        await using server = await accepted;
        // The ClientHello (a handshake record, 0x16), then end of stream.
        const received = await readToEnd(server);
        assert.ok(received.length > 5);
        assert.equal(received[0], 0x16);
      });

      it("timeout during the handshake rejects with timeout, and closes the socket", async () => {
        const { ca } = await testCertificates();
        await using listener = await plainListener(net);
        const accepted = acceptOne(listener);
        const started = Date.now();
        await rejectsWith(
          net.tcp.connect({ hostname: "127.0.0.1", port: portOf(listener) }, { tls: { ca: ca.cert, serverName: "localhost" }, timeout: 200 }),
          "timeout",
        );
        assert.ok(Date.now() - started < 5000, "rejected at the timeout, not later");
        await using server = await accepted;
        const received = await readToEnd(server);
        assert.equal(received[0], 0x16);
      });
    });

    describe("against a unisock TLS server", () => {
      async function tlsListener() {
        const { server } = await testCertificates();
        return await net.tcp.listen({ hostname: "127.0.0.1", port: 0, tls: { cert: server.cert, key: server.key } });
      }

      it("await using closes a TLS connection: the peer reads end of stream", async () => {
        const { ca } = await testCertificates();
        await using listener = await tlsListener();
        const accepted = acceptOne(listener);
        {
          await using conn = await net.tcp.connect({ hostname: "localhost", port: portOf(listener) }, { tls: { ca: ca.cert }, timeout: CONNECT_MS });
          await conn.write(encoder.encode("bye"));
        }
        await using server = await accepted;
        assert.equal(decoder.decode(await readToEnd(server)), "bye");
      });

      it("half-closes: the client closeWrite()s, the server reads to end and still replies", async () => {
        const { ca } = await testCertificates();
        await using listener = await tlsListener();
        const accepted = acceptOne(listener);
        await using client = await net.tcp.connect({ hostname: "localhost", port: portOf(listener) }, { tls: { ca: ca.cert }, timeout: CONNECT_MS });
        await using server = await accepted;
        await client.write(encoder.encode("question"));
        await client.closeWrite();
        assert.equal(decoder.decode(await readToEnd(server)), "question");
        await rejectsWith(client.write(encoder.encode("more")), "invalid-state");
        await server.write(encoder.encode("answer after the client's close_notify"));
        await server.closeWrite();
        assert.equal(decoder.decode(await readToEnd(client)), "answer after the client's close_notify");
      });

      for (const how of ["tls at connect", "startTls"] as const) {
        it(`closeWrite sends close_notify, then FIN: a plaintext relay in between sees the client's end (${how})`, async () => {
          const { ca } = await testCertificates();
          await using listener = await tlsListener();
          await using relay = await plainListener(net);
          const accepted = acceptOne(listener);
          // The relay copies bytes both ways and half-closes each way when that side ends.
          let clientEnded = false;
          let markEnded = (): void => {};
          const clientEnd = new Promise<void>((resolve) => (markEnded = resolve));
          const relaying = (async () => {
            await using fromClient = await relay.accept();
            await using toServer = await net.tcp.connect({ hostname: "127.0.0.1", port: portOf(listener) }, { timeout: CONNECT_MS });
            const pump = async (from: Connection, to: Connection, ended: () => void) => {
              const buffer = new Uint8Array(64 * 1024);
              const signal = AbortSignal.timeout(WAIT_MS);
              let count: number | null;
              while ((count = await from.read(buffer, { signal })) !== null) await to.write(buffer.subarray(0, count));
              ended();
              await to.closeWrite();
            };
            await Promise.all([pump(fromClient, toServer, () => {
              clientEnded = true;
              markEnded();
            }), pump(toServer, fromClient, () => {})]);
          })();
          relaying.catch(() => {});
          let client: Connection<IpSocketAddress> | undefined;
          let server: Connection<IpSocketAddress> | undefined;
          try {
            const address = { hostname: "localhost", port: portOf(relay) };
            client = how === "startTls"
              ? await (await net.tcp.connect(address, { timeout: CONNECT_MS })).startTls({ ca: ca.cert }, { signal: AbortSignal.timeout(CONNECT_MS) })
              : await net.tcp.connect(address, { tls: { ca: ca.cert }, timeout: CONNECT_MS });
            server = await accepted;
            await client.write(encoder.encode("question"));
            await client.closeWrite();
            assert.equal(decoder.decode(await readToEnd(server)), "question");
            // The FIN comes with closeWrite(), not only once the whole connection is closed.
            let timer: ReturnType<typeof setTimeout> | undefined;
            await Promise.race([clientEnd, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
            clearTimeout(timer);
            assert.equal(clientEnded, true, "the relay saw the client's FIN before the server replied");
            await server.write(encoder.encode("answer"));
            await server.closeWrite();
            assert.equal(decoder.decode(await readToEnd(client)), "answer");
            await relaying;
          } finally {
            client?.close();
            server?.close();
            await relaying.catch(() => {});
          }
        });
      }

      for (const how of ["tls at connect and listen", "startTls on both sides"] as const) {
        it(`echoes 64 MiB over TLS with the same sha256 (${how})`, async () => {
          const { ca, server } = await testCertificates();
          const serverTls = { cert: server.cert, key: server.key };
          await using listener = how === "startTls on both sides" ? await plainListener(net) : await tlsListener();
          let serverSide: Connection | undefined;
          const serving = listener.accept().then(async (accepted) => {
            serverSide = accepted;
            if (how === "startTls on both sides") serverSide = await accepted.startTls(serverTls, { signal: AbortSignal.timeout(CONNECT_MS) });
            await echo(serverSide);
          });
          serving.catch(() => {});
          try {
            const address = { hostname: "localhost", port: portOf(listener) };
            await using conn = how === "startTls on both sides"
              ? await (await net.tcp.connect(address, { timeout: CONNECT_MS })).startTls({ ca: ca.cert }, { signal: AbortSignal.timeout(CONNECT_MS) })
              : await net.tcp.connect(address, { tls: { ca: ca.cert }, timeout: CONNECT_MS });
            // The bound of the whole transfer: closing makes the reads and writes below fail.
            const watchdog = setTimeout(() => conn.close(), 90_000);
            // Bun's node:tls over its own socket (startTls on the bun driver) ends the session
            // at the peer's close_notify, echo still in flight included: a gap in the README's
            // runtime table, tested in tls_starttls_test.ts. Here the client takes its echo back
            // whole before it closes, without half-closing.
            const halfClose = !(name === "bun" && how === "startTls on both sides");
            try {
              const received = halfClose ? drain(conn) : drainBytes(conn, 64 * MiB);
              const sent = await sendPattern(conn, 64 * MiB, 64 * 1024 + 7, 11);
              if (halfClose) await conn.closeWrite();
              const back = await received;
              assert.equal(back.bytes, 64 * MiB);
              assert.equal(back.sha256, sent);
            } finally {
              clearTimeout(watchdog);
            }
            if (halfClose) await within(serving, WAIT_MS, "the server's echo did not finish");
          } finally {
            listener.close();
            serverSide?.close();
            await serving.catch(() => {});
          }
        });
      }
    });
  });
}

/** Reads exactly `total` bytes (not to the end): the count and sha256. */
async function drainBytes(conn: Connection, total: number): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  const buffer = new Uint8Array(64 * 1024);
  let bytes = 0;
  while (bytes < total) {
    const count = await conn.read(buffer.subarray(0, Math.min(buffer.length, total - bytes)));
    if (count === null) break;
    hash.update(buffer.subarray(0, count));
    bytes += count;
  }
  return { bytes, sha256: hash.digest("hex") };
}
