/**
 * Bad TLS options are a clear `invalid-argument`, never a crash or a hang: through
 * `tcp.connect(..., { tls })` (and no connection is made), `tcp.listen({ ..., tls })` (and
 * nothing listens afterwards) and `connection.startTls(options)` (and the connection is
 * left as it was). Every message names the operation and the option at fault. Every test
 * runs on every driver this runtime can load.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { IpSocketAddress } from "../core/address.ts";
import type { Connection } from "../core/connection.ts";
import type { Listener } from "../core/listener.ts";
import type { Network } from "../network/network.ts";
import { closedPort, networks, portOf, rejectsWith, within } from "./helpers.ts";
import { testCertificates } from "./peers/certs.ts";
import type { TestCertificates } from "./peers/certs.ts";
import { opensslOutput } from "./peers/openssl.ts";
import { withTempDir } from "./unix_helpers.ts";
import { SocketError } from "../core/errors.ts";
import { readFileSync } from "node:fs";

type Loose = never;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bound of one step (a connect, an accept, a read). */


/** The PEM `pem` with its first base64 line replaced by another of the same length: still PEM-shaped, no longer DER. */
function corrupted(pem: string): string {
  const lines = pem.split("\n");
  lines[1] = "A".repeat(lines[1].length);
  return lines.join("\n");
}

/** The PEM `pem` with the middle of its body cut out: valid base64 lines, truncated DER. */
function truncated(pem: string): string {
  const lines = pem.split("\n");
  const end = lines.findIndex((line) => line.startsWith("-----END"));
  return [...lines.slice(0, 2), ...lines.slice(end - 1)].join("\n");
}

type Side = "client" | "server";

/** One bad input: the options for each side it applies to, and what the message must name. */
interface BadTls {
  label: string;
  client?: (c: TestCertificates) => unknown;
  server?: (c: TestCertificates) => unknown;
  names: RegExp;
}

const pair = (c: TestCertificates, extra: Record<string, unknown> = {}) => ({ cert: c.server.cert, key: c.server.key, ...extra });

const BAD: BadTls[] = [
  { label: "tls is a number", client: () => 42, server: () => 42, names: /\btls must be an object\b/ },
  { label: "tls is a string", client: () => "on", server: () => "on", names: /\btls must be an object\b/ },
  { label: "tls: true on the server side", server: () => true, names: /\btls\b.*\bcert\b/ },
  { label: "ca: 42", client: () => ({ ca: 42 }), server: (c) => pair(c, { ca: 42 }), names: /\btls\.ca\b/ },
  { label: "ca: []", client: () => ({ ca: [] }), server: (c) => pair(c, { ca: [] }), names: /\btls\.ca\b/ },
  { label: 'ca: "not a pem"', client: () => ({ ca: "not a pem" }), server: (c) => pair(c, { ca: "not a pem" }), names: /\btls\.ca\b/ },
  { label: "ca: [pem, 42]", client: (c) => ({ ca: [c.ca.cert, 42] }), server: (c) => pair(c, { ca: [c.ca.cert, 42] }), names: /\btls\.ca\[1\]/ },
  {
    label: "ca with a corrupted PEM body",
    client: (c) => ({ ca: corrupted(c.ca.cert) }),
    server: (c) => pair(c, { ca: corrupted(c.ca.cert) }),
    names: /\btls\.ca\b/,
  },
  {
    label: "cert without key",
    client: (c) => ({ ca: c.ca.cert, cert: c.client.cert }),
    server: (c) => ({ cert: c.server.cert }),
    names: /\btls\.key\b/,
  },
  {
    label: "key without cert (no tls.cert)",
    client: (c) => ({ ca: c.ca.cert, key: c.client.key }),
    server: (c) => ({ key: c.server.key }),
    names: /\btls\.cert\b/,
  },
  { label: "no tls.cert nor tls.key on the server side", server: () => ({}), names: /\btls\.cert\b/ },
  {
    label: "cert with a corrupted PEM body",
    client: (c) => ({ ca: c.ca.cert, cert: corrupted(c.client.cert), key: c.client.key }),
    server: (c) => ({ cert: corrupted(c.server.cert), key: c.server.key }),
    names: /\btls\.cert\b/,
  },
  {
    label: "cert with a truncated PEM body",
    client: (c) => ({ ca: c.ca.cert, cert: truncated(c.client.cert), key: c.client.key }),
    server: (c) => ({ cert: truncated(c.server.cert), key: c.server.key }),
    names: /\btls\.cert\b/,
  },
  {
    label: "cert that is a private key",
    client: (c) => ({ ca: c.ca.cert, cert: c.client.key, key: c.client.key }),
    server: (c) => ({ cert: c.server.key, key: c.server.key }),
    names: /\btls\.cert\b/,
  },
  {
    label: "key with a corrupted PEM body",
    client: (c) => ({ ca: c.ca.cert, cert: c.client.cert, key: corrupted(c.client.key) }),
    server: (c) => ({ cert: c.server.cert, key: corrupted(c.server.key) }),
    names: /\btls\.key\b/,
  },
  {
    label: "key that is a certificate",
    client: (c) => ({ ca: c.ca.cert, cert: c.client.cert, key: c.client.cert }),
    server: (c) => ({ cert: c.server.cert, key: c.server.cert }),
    names: /\btls\.key\b/,
  },
  {
    label: "an encrypted key",
    client: (c) => ({ ca: c.ca.cert, cert: c.client.cert, key: encryptedKey() }),
    server: (c) => ({ cert: c.server.cert, key: encryptedKey() }),
    names: /\btls\.key\b/,
  },
  {
    label: "key not matching the cert",
    client: (c) => ({ ca: c.ca.cert, cert: c.client.cert, key: c.server.key }),
    server: (c) => ({ cert: c.server.cert, key: c.other.key }),
    names: /\btls\.key\b/,
  },
  { label: "alpn: []", client: () => ({ alpn: [] }), server: (c) => pair(c, { alpn: [] }), names: /\btls\.alpn\b/ },
  { label: 'alpn: [""]', client: () => ({ alpn: [""] }), server: (c) => pair(c, { alpn: [""] }), names: /\btls\.alpn\b/ },
  {
    label: "alpn: a 256-byte name",
    client: () => ({ alpn: ["x".repeat(256)] }),
    server: (c) => pair(c, { alpn: ["x".repeat(256)] }),
    names: /\btls\.alpn\b/,
  },
  { label: 'alpn: "h2" (not an array)', client: () => ({ alpn: "h2" }), server: (c) => pair(c, { alpn: "h2" }), names: /\btls\.alpn\b/ },
  { label: "alpn: [42]", client: () => ({ alpn: [42] }), server: (c) => pair(c, { alpn: [42] }), names: /\btls\.alpn\b/ },
  { label: 'serverName: "bad name!"', client: () => ({ serverName: "bad name!" }), names: /\btls\.serverName\b/ },
  { label: "serverName: 42", client: () => ({ serverName: 42 }), names: /\btls\.serverName\b/ },
  { label: 'serverName: ""', client: () => ({ serverName: "" }), names: /\btls\.serverName\b/ },
  {
    label: 'sni: { "bad name!": pair }',
    server: (c) => pair(c, { sni: { "bad name!": { cert: c.other.cert, key: c.other.key } } }),
    names: /\btls\.sni\b/,
  },
  {
    label: 'sni: { "127.0.0.1": pair } (an IP is no server name)',
    server: (c) => pair(c, { sni: { "127.0.0.1": { cert: c.other.cert, key: c.other.key } } }),
    names: /\btls\.sni\b/,
  },
  {
    label: 'sni: { "a.test": { cert } } (no key)',
    server: (c) => pair(c, { sni: { "a.test": { cert: c.other.cert } } }),
    names: /\btls\.sni\["a\.test"\]\.key/,
  },
  { label: "sni: [] (not a map)", server: (c) => pair(c, { sni: [] }), names: /\btls\.sni\b/ },
  {
    label: "sni pair whose key does not match",
    server: (c) => pair(c, { sni: { "other.test": { cert: c.other.cert, key: c.server.key } } }),
    names: /\btls\.sni\["other\.test"\]\.key/,
  },
  { label: 'clientCertificate: "maybe"', server: (c) => pair(c, { clientCertificate: "maybe", ca: c.ca.cert }), names: /\btls\.clientCertificate\b/ },
  { label: 'clientCertificate: "require" without ca', server: (c) => pair(c, { clientCertificate: "require" }), names: /\btls\.ca\b/ },
];

/** A PEM block that says it is an encrypted key (the body is never decrypted). */
function encryptedKey(): string {
  return `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${"QUJD".repeat(16)}\n-----END ENCRYPTED PRIVATE KEY-----\n`;
}

/** A listener on 127.0.0.1, closed by `close()`. */
async function listener(net: Network): Promise<Listener & { port: number }> {
  const l = await net.tcp.listen({ hostname: "127.0.0.1", port: 0 });
  return Object.assign(l, { port: portOf(l) });
}

/** Sends `text` from `from` and reads exactly it on `to`. */
async function roundTrip(from: Connection, to: Connection, text: string): Promise<void> {
  const bytes = encoder.encode(text);
  await within(from.write(bytes), "write");
  const got = new Uint8Array(bytes.length);
  let filled = 0;
  while (filled < got.length) {
    const count = await within(to.read(got.subarray(filled)), "read");
    if (count === null) throw new Error(`end of stream after ${filled} of ${got.length} bytes`);
    filled += count;
  }
  assert.equal(decoder.decode(got), text);
}

/** A plaintext pair on `net`: the client's end (from connect) and the server's (from accept); closed by the returned function. */
async function plainPair(net: Network): Promise<{ client: Connection; server: Connection; close(): void }> {
  const l = await listener(net);
  const opened: Connection[] = [];
  try {
    const accepted = l.accept();
    accepted.catch(() => {});
    opened.push(await within(net.tcp.connect({ hostname: "127.0.0.1", port: l.port }), "connect"));
    opened.push(await within(accepted, "accept"));
  } catch (error) {
    for (const conn of opened) conn.close();
    throw error;
  } finally {
    l.close();
  }
  const [client, server] = opened;
  return { client, server, close: () => opened.forEach((conn) => conn.close()) };
}

function checkMessage(message: string, operation: RegExp, names: RegExp): void {
  assert.match(message, operation);
  assert.match(message, names);
}

/** A certificate with a 512-bit RSA key: it parses and matches, but OpenSSL refuses to load it. */
async function weakPair(): Promise<{ cert: string; key: string }> {
  return await withTempDir(async (dir) => {
    await opensslOutput([
      "req", "-x509", "-newkey", "rsa:512", "-noenc", "-keyout", `${dir}/weak.key`, "-out", `${dir}/weak.pem`,
      "-subj", "/CN=localhost", "-days", "1", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ]);
    return { cert: readFileSync(`${dir}/weak.pem`, "utf8"), key: readFileSync(`${dir}/weak.key`, "utf8") };
  });
}

for (const { name, net } of networks()) {
  describe(`TLS bad input (${name} driver)`, () => {
    it("a key the TLS library will not load (RSA 512) is invalid-argument at listen, or served: never a crash", async () => {
      const weak = await weakPair();
      let listener: Listener<IpSocketAddress> | undefined;
      try {
        listener = await net.tcp.listen({ hostname: "127.0.0.1", port: 0, tls: weak });
      } catch (error) {
        assert.ok(error instanceof SocketError, String(error));
        assert.equal(error.code, "invalid-argument");
        assert.match(error.message, /^tcp\.listen: tls\.cert and its key cannot be used for TLS/);
        return;
      }
      // This runtime's TLS library takes the key (BoringSSL on Bun): a client gets a TLS
      // answer, and the listener goes on.
      try {
        const accepted = listener.accept();
        accepted.catch(() => {});
        const port = portOf(listener);
        const outcome = await net.tcp.connect({ hostname: "127.0.0.1", port }, { tls: { ca: weak.cert }, timeout: 5_000 }).then(
          (conn) => {
            conn.close();
            return "connected";
          },
          (error: unknown) => (error instanceof SocketError && error.code.startsWith("tls-") ? "refused" : String(error)),
        );
        assert.ok(outcome === "connected" || outcome === "refused", outcome);
      } finally {
        listener.close();
      }
    });

    for (const bad of BAD) {
      const { client, server } = bad;
      if (client !== undefined) {
        it(`connect: ${bad.label} → invalid-argument, and no connection is made`, async () => {
          const certs = await testCertificates();
          const l = await listener(net);
          try {
            const accepted = l.accept();
            accepted.catch(() => {});
            const error = await within(
              rejectsWith(() => net.tcp.connect({ hostname: "127.0.0.1", port: l.port }, { tls: client(certs) as Loose }), "invalid-argument"),
              "the refused connect",
            );
            checkMessage(error.message, /^tcp\.connect\b/, bad.names);
            // The first connection the listener gets is this probe: the refused connect made none.
            await using probe = await within(net.tcp.connect({ hostname: "127.0.0.1", port: l.port }), "the probe connect");
            await using first = await within(accepted, "accept");
            assert.equal((first.remoteAddress as { port: number }).port, (probe.localAddress as { port: number }).port);
            await roundTrip(probe, first, "probe");
          } finally {
            l.close();
          }
        });

        it(`startTls (client side): ${bad.label} → invalid-argument; the connection stays plaintext and usable`, async () => {
          const certs = await testCertificates();
          const ends = await plainPair(net);
          try {
            const error = await within(rejectsWith(() => ends.client.startTls(client(certs) as Loose), "invalid-argument"), "the refused startTls");
            checkMessage(error.message, /^startTls\b/, bad.names);
            assert.equal(ends.client.tls, undefined);
            await roundTrip(ends.client, ends.server, "still plaintext\n");
            await roundTrip(ends.server, ends.client, "both ways\n");
          } finally {
            ends.close();
          }
        });
      }
      if (server !== undefined) {
        it(`listen: ${bad.label} → invalid-argument, and nothing listens on the port`, async () => {
          const certs = await testCertificates();
          const port = await closedPort(net);
          const error = await within(
            rejectsWith(() => net.tcp.listen({ hostname: "127.0.0.1", port, tls: server(certs) as Loose }), "invalid-argument"),
            "the refused listen",
          );
          checkMessage(error.message, /^tcp\.listen\b/, bad.names);
          await within(rejectsWith(net.tcp.connect({ hostname: "127.0.0.1", port }), "connection-refused"), "connecting to the port");
        });

        it(`startTls (server side): ${bad.label} → invalid-argument; the connection stays plaintext and usable`, async () => {
          const certs = await testCertificates();
          const ends = await plainPair(net);
          try {
            const error = await within(rejectsWith(() => ends.server.startTls(server(certs) as Loose), "invalid-argument"), "the refused startTls");
            checkMessage(error.message, /^startTls\b/, bad.names);
            assert.equal(ends.server.tls, undefined);
            await roundTrip(ends.server, ends.client, "still plaintext\n");
            await roundTrip(ends.client, ends.server, "both ways\n");
          } finally {
            ends.close();
          }
        });
      }
    }

    it("startTls() with no options on the server side → invalid-argument naming tls.cert/key", async () => {
      const ends = await plainPair(net);
      try {
        const error = await rejectsWith(() => ends.server.startTls(), "invalid-argument");
        checkMessage(error.message, /^startTls\b/, /\bcert\b/);
        await roundTrip(ends.client, ends.server, "still usable\n");
      } finally {
        ends.close();
      }
    });

    it("startTls with a signal that is not an AbortSignal → invalid-argument, on both sides", async () => {
      const certs = await testCertificates();
      const ends = await plainPair(net);
      try {
        const clientError = await rejectsWith(() => ends.client.startTls({ ca: certs.ca.cert }, { signal: "stop" as Loose }), "invalid-argument");
        checkMessage(clientError.message, /^startTls\b/, /\bsignal\b/);
        const serverError = await rejectsWith(
          () => ends.server.startTls({ cert: certs.server.cert, key: certs.server.key }, { signal: {} as Loose }),
          "invalid-argument",
        );
        checkMessage(serverError.message, /^startTls\b/, /\bsignal\b/);
        await roundTrip(ends.client, ends.server, "still usable\n");
      } finally {
        ends.close();
      }
    });

    it("the limits themselves are accepted: a 255-byte ALPN name, ca as a list, a wildcard SNI name", async () => {
      const certs = await testCertificates();
      const sni = { "*.other.test": { cert: certs.other.cert, key: certs.other.key }, "other.test.": { cert: certs.other.cert, key: certs.other.key } };
      await using l = await net.tcp.listen({ hostname: "127.0.0.1", port: 0, tls: pair(certs, { alpn: ["x".repeat(255), "h2"], sni }) });
      const accepted = l.accept();
      accepted.catch(() => {});
      await using conn = await within(
        net.tcp.connect({ hostname: "127.0.0.1", port: portOf(l) }, { tls: { ca: [certs.ca.cert], serverName: "localhost.", alpn: ["x".repeat(255)] } }),
        "TLS connect",
      );
      await using peer = await within(accepted, "accept");
      assert.equal(conn.tls?.peerCertificate?.fingerprint256, certs.server.fingerprint256);
      assert.equal(conn.tls?.alpn, "x".repeat(255));
      assert.equal(peer.tls?.alpn, "x".repeat(255));
      assert.equal(peer.tls?.serverName, "localhost");
      await roundTrip(conn, peer, "ok\n");
    });
  });
}
