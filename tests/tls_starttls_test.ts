/**
 * STARTTLS: `connection.startTls()` on both sides, against real foreign peers (openssl
 * `s_client -starttls smtp`, CPython's `ssl`, a `node:tls` client that sends its
 * ClientHello right behind the STARTTLS line), on TCP and Unix-domain connections, with
 * client certificates, the spent old object, and cancelling through an AbortSignal.
 * Every test runs on every driver this runtime can load.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import nodeNet from "node:net";
import nodeTls from "node:tls";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { IpSocketAddress } from "../core/address.ts";
import type { Connection } from "../core/connection.ts";
import type { TlsClientOptions, TlsServerOptions } from "../core/tls.ts";
import { SocketError } from "../core/errors.ts";
import type { Listener } from "../core/listener.ts";
import type { Network } from "../network/network.ts";
import { Cleanup as BaseCleanup, networks, portOf, rejectsWith, STEP_MS, within } from "./helpers.ts";
import { testCertificates } from "./peers/certs.ts";
import { runOpensslClient } from "./peers/openssl.ts";
import { withTempDir } from "./unix_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const encode = (text: string): Uint8Array => encoder.encode(text);



const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Reads one line, up to and including `\n`, one byte per `read()`: byte-exact, so the
 * bytes behind the line (a ClientHello) stay unread for TLS.
 */
async function readLine(conn: Connection, what = "a line"): Promise<string> {
  const byte = new Uint8Array(1);
  const bytes: number[] = [];
  return await within((async () => {
    while (bytes.length === 0 || bytes[bytes.length - 1] !== 0x0a) {
      const count = await conn.read(byte);
      if (count === null) throw new Error(`end of stream while reading ${what}, after ${JSON.stringify(decoder.decode(Uint8Array.from(bytes)))}`);
      if (count === 1) bytes.push(byte[0]);
      if (bytes.length > 4096) throw new Error(`${what}: no line end in 4096 bytes`);
    }
    return decoder.decode(Uint8Array.from(bytes));
  })(), `reading ${what}`);
}

/** Reads exactly `length` bytes. */
async function readExactly(conn: Connection, length: number, what: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let filled = 0;
  return await within((async () => {
    while (filled < length) {
      const count = await conn.read(out.subarray(filled));
      if (count === null) throw new Error(`end of stream while reading ${what} (${filled} of ${length} bytes)`);
      filled += count;
    }
    return out;
  })(), `reading ${what}`);
}

/**
 * Reads until end of stream (or the connection fails); resolves with the bytes that came first.
 * Its own decoder, flushed at the end: a shared one decoding with `stream: true` would keep
 * the unfinished UTF-8 sequence a binary tail (a ClientHello's) ends with, and hand it to
 * the next `decode()` as a U+FFFD in front of another test's line.
 */
async function readToEnd(conn: Connection, what: string): Promise<{ text: string; error: unknown }> {
  const buffer = new Uint8Array(4096);
  const streamDecoder = new TextDecoder();
  let text = "";
  return await within((async () => {
    try {
      let count: number | null;
      while ((count = await conn.read(buffer)) !== null) text += streamDecoder.decode(buffer.subarray(0, count), { stream: true });
      return { text: text + streamDecoder.decode(), error: undefined };
    } catch (error) {
      return { text: text + streamDecoder.decode(), error };
    }
  })(), `reading ${what} to its end`);
}

/** The shared clean-up, which also runs `startTls` so that a handshake still under way is aborted at the end. */
class Cleanup extends BaseCleanup {
  /**
   * `conn.startTls(options)` whose result is closed with the rest, and which is aborted by
   * the clean-up while still under way: a handshake that never ends leaves nothing open.
   */
  startTls<T extends Connection>(conn: T, options: TlsClientOptions | TlsServerOptions): Promise<T> {
    const secure = conn.startTls(options, { signal: this.signal() }) as Promise<T>;
    secure.then((done) => this.connection(done), () => {});
    return secure;
  }
}

/** A plaintext TCP connection pair over `net`: the client (made by connect, to 127.0.0.1) and the server's (from accept). */
async function tcpPair(net: Network, cleanup: Cleanup): Promise<{ client: Connection<IpSocketAddress>; server: Connection<IpSocketAddress> }> {
  const listener = cleanup.add(await net.tcp.listen({ hostname: "127.0.0.1", port: 0 }), (l: Listener) => l.close());
  const accepted = listener.accept();
  accepted.catch(() => {});
  const client = cleanup.connection(await within(net.tcp.connect({ hostname: "127.0.0.1", port: portOf(listener) }), "connect"));
  const server = cleanup.connection(await within(accepted, "accept"));
  return { client, server };
}

/** Sends `text` from `from` and reads it on `to`, byte for byte. */
async function roundTrip(from: Connection, to: Connection, text: string): Promise<void> {
  await within(from.write(encode(text)), "write");
  assert.equal(decoder.decode(await readExactly(to, encode(text).length, JSON.stringify(text))), text);
}

/** The CPython STARTTLS peer (tests/peers/starttls_server.py), one connection, ended on dispose. */
async function startPythonStarttlsServer(certFile: string, keyFile: string): Promise<{
  port: number;
  /** Resolves once it has exited and its pipes closed: exit code and stderr. */
  done: Promise<{ code: number | null; stderr: string }>;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const script = fileURLToPath(new URL("./peers/starttls_server.py", import.meta.url));
  const child = spawn("python3", [script, certFile, keyFile], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  // No peer outlives its test: killed after 30 s whatever happens.
  const timer = setTimeout(kill, 30_000);
  let exited = false;
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => {
    child.once("error", (error) => {
      stderr += `python3 could not start (apt-get install python3): ${error.message}`;
      exited = true;
      resolve({ code: null, stderr });
    });
    child.once("close", (code) => {
      exited = true;
      resolve({ code, stderr });
    });
  }).finally(() => clearTimeout(timer));
  const dispose = async (): Promise<void> => {
    kill();
    await done;
  };
  const deadline = Date.now() + STEP_MS;
  while (!stdout.includes("\n")) {
    if (exited || Date.now() > deadline) {
      await dispose();
      throw new Error(`starttls_server.py printed no port: ${stderr}`);
    }
    await sleep(10);
  }
  return { port: Number(stdout.trim()), done, [Symbol.asyncDispose]: dispose };
}

for (const { name, net } of networks()) {
  describe(`STARTTLS (${name} driver)`, () => {
    it("server side: openssl s_client -starttls smtp upgrades, and a line goes both ways over TLS", async () => {
      const { ca, server } = await testCertificates();
      await using cleanup = new Cleanup();
      const listener = cleanup.add(await net.tcp.listen({ hostname: "127.0.0.1", port: 0 }), (l: Listener) => l.close());
      const serve = (async () => {
        const conn = cleanup.connection(await within(listener.accept(), "accept"));
        await conn.write(encode("220 unisock ESMTP\r\n"));
        const ehlo = await readLine(conn, "EHLO");
        assert.match(ehlo, /^EHLO \S+\r\n$/);
        await conn.write(encode("250-unisock\r\n250 STARTTLS\r\n"));
        assert.equal(await readLine(conn, "STARTTLS"), "STARTTLS\r\n");
        await conn.write(encode("220 2.0.0 Ready to start TLS\r\n"));
        const secure = await within(cleanup.startTls(conn, { cert: server.cert, key: server.key }), "startTls");
        assert.equal(conn.tls, undefined, "the old object stays plaintext");
        const line = await readLine(secure, "the line over TLS");
        await secure.write(encode(line.toUpperCase()));
        // s_client sends close_notify (or just ends) once it has the answer.
        const rest = await readToEnd(secure, "the TLS connection");
        assert.equal(rest.text, "");
        return { line, tls: secure.tls };
      })();
      serve.catch(() => {});
      const client = await runOpensslClient({
        port: portOf(listener),
        serverName: "localhost",
        caFile: ca.certFile,
        starttls: "smtp",
        input: "hello over tls\n",
        until: "HELLO OVER TLS\n",
      });
      const served = await within(serve, "the server side");
      assert.equal(client.timedOut, false, client.stderr);
      assert.equal(client.code, 0, client.stderr);
      assert.equal(client.stdout, "HELLO OVER TLS\n", "stdout is the data received over TLS");
      assert.match(client.stderr, /^Verification: OK$/m);
      assert.equal(served.line, "hello over tls\n");
      assert.ok(served.tls !== undefined, "the new connection speaks TLS");
      assert.match(served.tls.protocol, /^TLSv1\.[23]$/);
      assert.match(client.stderr, new RegExp(`^Protocol version: ${served.tls.protocol.replace(".", "\\.")}$`, "m"));
      assert.equal(typeof served.tls.cipher, "string");
      assert.ok(served.tls.cipher.length > 0);
      assert.equal(served.tls.serverName, "localhost");
      assert.equal(served.tls.peerCertificate, null, "s_client sent no certificate");
    });

    it("client side: STARTTLS against CPython's ssl, the server's certificate checked against the name connected to", async () => {
      const certs = await testCertificates();
      await using peer = await startPythonStarttlsServer(certs.server.certFile, certs.server.keyFile);
      await using cleanup = new Cleanup();
      const conn = cleanup.connection(await within(net.tcp.connect({ hostname: "localhost", port: peer.port }), "connect"));
      assert.equal(await readLine(conn, "greeting"), "220 ready\r\n");
      await conn.write(encode("STARTTLS\r\n"));
      assert.equal(await readLine(conn, "go-ahead"), "220 go\r\n");
      assert.equal(conn.tls, undefined);
      const secure = await within(cleanup.startTls(conn, { ca: certs.ca.cert }), "startTls");
      const tls = secure.tls;
      assert.ok(tls !== undefined);
      assert.match(tls.protocol, /^TLSv1\.[23]$/);
      assert.equal(tls.serverName, "localhost", "serverName defaults to the name connected to");
      assert.ok(tls.peerCertificate !== null);
      assert.equal(tls.peerCertificate.fingerprint256, certs.server.fingerprint256);
      assert.equal(tls.peerCertificate.subject, "CN=localhost");
      await secure.write(encode("hello python\r\n"));
      assert.equal(await readLine(secure, "the reversed line"), "nohtyp olleh\r\n");
      // The peer then closes with close_notify: end of stream, nothing more.
      const rest = await readToEnd(secure, "the TLS connection");
      assert.equal(rest.text, "");
      secure.close();
      const result = await within(peer.done, "the python peer to exit");
      assert.equal(result.code, 0, result.stderr);
    });

    it("server side: a ClientHello right behind the STARTTLS line goes to TLS, nothing lost or given twice", async () => {
      const { ca, server } = await testCertificates();
      await using cleanup = new Cleanup();
      const listener = cleanup.add(await net.tcp.listen({ hostname: "127.0.0.1", port: 0 }), (l: Listener) => l.close());
      const accepted = listener.accept();
      accepted.catch(() => {});

      const socket = nodeNet.connect(portOf(listener), "127.0.0.1");
      const socketClosed = once(socket, "close").catch(() => {});
      cleanup.add(socket, async (s) => {
        s.destroy();
        await within(socketClosed, "the client socket to close");
      });
      socket.on("error", () => {});
      await within(once(socket, "connect"), "node:net connect");
      // The line and the ClientHello in the same tick: the client does not wait for an answer.
      socket.write("STARTTLS\r\n");
      const client = nodeTls.connect({ socket, servername: "localhost", ca: ca.cert });
      const clientClosed = once(client, "close").catch(() => {});
      cleanup.add(client, async (c) => {
        c.destroy();
        await within(clientClosed, "the client TLS socket to close");
      });
      let received = "";
      client.setEncoding("utf8").on("data", (text: string) => (received += text));
      const clientError = new Promise<never>((_, reject) => client.once("error", reject));
      clientError.catch(() => {});
      const secureConnect = once(client, "secureConnect");
      secureConnect.catch(() => {});

      const conn = cleanup.connection(await within(accepted, "accept"));
      // Let the line and the ClientHello both arrive before reading anything.
      await sleep(100);
      const line = await readExactly(conn, "STARTTLS\r\n".length, "the STARTTLS line");
      assert.equal(decoder.decode(line), "STARTTLS\r\n");
      const secure = await within(cleanup.startTls(conn, { cert: server.cert, key: server.key }), "startTls");
      await within(Promise.race([secureConnect, clientError]), "the client's handshake");
      assert.equal(client.authorized, true, String(client.authorizationError));
      assert.equal(secure.tls?.serverName, "localhost");
      assert.match(secure.tls?.protocol ?? "", /^TLSv1\.[23]$/);

      // Both ways, byte-exact.
      client.write("ping from node:tls\n");
      assert.equal(await readLine(secure, "the client's line"), "ping from node:tls\n");
      await secure.write(encode("pong from unisock\n"));
      const deadline = Date.now() + STEP_MS;
      while (!received.includes("\n") && Date.now() < deadline) await sleep(10);
      assert.equal(received, "pong from unisock\n");

      // The client ends cleanly; the server then reads end of stream, nothing else.
      client.end();
      const rest = await readToEnd(secure, "the TLS connection");
      assert.equal(rest.text, "");
    });

    it("after startTls the old object is spent; a second startTls, or one on TLS, is invalid-state", async () => {
      const { ca, server: serverCert } = await testCertificates();
      await using cleanup = new Cleanup();
      const { client, server } = await tcpPair(net, cleanup);
      const clientUpgrade = cleanup.startTls(client, { ca: ca.cert, serverName: "localhost" });
      // The same call again before the first is done: the object is already spent.
      await rejectsWith(client.startTls({ ca: ca.cert, serverName: "localhost" }), "invalid-state");
      const serverUpgrade = cleanup.startTls(server, { cert: serverCert.cert, key: serverCert.key });
      const [secureClient, secureServer] = await within(Promise.all([clientUpgrade, serverUpgrade]), "both handshakes");

      for (const [side, old] of [["client", client], ["server", server]] as const) {
        await rejectsWith(old.read(new Uint8Array(8)), "invalid-state");
        await rejectsWith(old.write(encode("x")), "invalid-state");
        await rejectsWith(old.startTls(side === "client" ? { ca: ca.cert } : { cert: serverCert.cert, key: serverCert.key }), "invalid-state");
        assert.equal(old.tls, undefined, `old ${side}`);
      }
      await rejectsWith(secureClient.startTls({ ca: ca.cert }), "invalid-state");
      await rejectsWith(secureServer.startTls({ cert: serverCert.cert, key: serverCert.key }), "invalid-state");

      // Neither refusal disturbed the TLS connections.
      assert.equal(secureClient.tls?.serverName, "localhost");
      assert.equal(secureServer.tls?.serverName, "localhost");
      await roundTrip(secureClient, secureServer, "client to server\n");
      await roundTrip(secureServer, secureClient, "server to client\n");
    });

    it("startTls while a read is pending is invalid-state, and the connection goes on: the read gets its data, TLS works after", async () => {
      const { ca, server: serverCert } = await testCertificates();
      await using cleanup = new Cleanup();
      const { client, server } = await tcpPair(net, cleanup);

      const clientBuffer = new Uint8Array(16);
      const clientRead = client.read(clientBuffer);
      await rejectsWith(client.startTls({ ca: ca.cert, serverName: "localhost" }), "invalid-state");
      const serverBuffer = new Uint8Array(16);
      const serverRead = server.read(serverBuffer);
      await rejectsWith(server.startTls({ cert: serverCert.cert, key: serverCert.key }), "invalid-state");

      await server.write(encode("to client"));
      await client.write(encode("to server"));
      const clientCount = await within(clientRead, "the pending client read");
      const serverCount = await within(serverRead, "the pending server read");
      assert.ok(clientCount !== null && serverCount !== null);
      let clientText = decoder.decode(clientBuffer.subarray(0, clientCount));
      let serverText = decoder.decode(serverBuffer.subarray(0, serverCount));
      if (clientText.length < 9) clientText += decoder.decode(await readExactly(client, 9 - clientText.length, "the rest"));
      if (serverText.length < 9) serverText += decoder.decode(await readExactly(server, 9 - serverText.length, "the rest"));
      assert.equal(clientText, "to client");
      assert.equal(serverText, "to server");

      const [secureClient, secureServer] = await within(
        Promise.all([cleanup.startTls(client, { ca: ca.cert, serverName: "localhost" }), cleanup.startTls(server, { cert: serverCert.cert, key: serverCert.key })]),
        "both handshakes",
      );
      await roundTrip(secureClient, secureServer, "over TLS\n");
      await roundTrip(secureServer, secureClient, "and back\n");
    });

    it("on Unix-domain connections: serverName is needed, then both sides upgrade and bytes flow", () =>
      withTempDir(async (dir) => {
        const { ca, server: serverCert } = await testCertificates();
        await using cleanup = new Cleanup();
        const path = `${dir}/starttls.sock`;
        const listener = cleanup.add(await net.unix.listen(path), (l: Listener) => l.close());
        const accepted = listener.accept();
        accepted.catch(() => {});
        const client = cleanup.connection(await within(net.unix.connect(path), "unix connect"));
        const server = cleanup.connection(await within(accepted, "accept"));

        const missing = await rejectsWith(client.startTls({ ca: ca.cert }), "invalid-argument");
        assert.match(missing.message, /serverName/);
        // The refusal spent nothing: plaintext still flows.
        await roundTrip(client, server, "plain\n");

        const [secureClient, secureServer] = await within(
          Promise.all([
            cleanup.startTls(client, { ca: ca.cert, serverName: "localhost" }),
            cleanup.startTls(server, { cert: serverCert.cert, key: serverCert.key }),
          ]),
          "both handshakes",
        );
        assert.equal(secureClient.tls?.serverName, "localhost");
        assert.equal(secureServer.tls?.serverName, "localhost");
        assert.equal(secureClient.tls?.peerCertificate?.fingerprint256, serverCert.fingerprint256);
        assert.equal(secureServer.tls?.peerCertificate, null);
        assert.deepEqual(secureClient.remoteAddress, { path });
        await roundTrip(secureClient, secureServer, "over TLS on a Unix socket\n");
        await roundTrip(secureServer, secureClient, "and back\n");
      }));

    for (const transport of ["tcp", "unix"] as const) {
      for (const closing of ["client", "server"] as const) {
        it(`after STARTTLS (${transport}), a ${closing} closeWrite ends the other's reading, which still answers`, () =>
          withTempDir(async (dir) => {
            const { ca, server: serverCert } = await testCertificates();
            await using cleanup = new Cleanup();
            let client: Connection;
            let server: Connection;
            if (transport === "tcp") {
              ({ client, server } = await tcpPair(net, cleanup));
            } else {
              const path = `${dir}/half.sock`;
              const listener = cleanup.add(await net.unix.listen(path), (l: Listener) => l.close());
              const accepted = listener.accept();
              accepted.catch(() => {});
              client = cleanup.connection(await within(net.unix.connect(path), "unix connect"));
              server = cleanup.connection(await within(accepted, "accept"));
            }
            const [secureClient, secureServer] = await within(
              Promise.all([
                cleanup.startTls(client, { ca: ca.cert, serverName: "localhost" }),
                cleanup.startTls(server, { cert: serverCert.cert, key: serverCert.key }),
              ]),
              "both handshakes",
            );
            const [closer, other] = closing === "client" ? [secureClient, secureServer] : [secureServer, secureClient];
            await roundTrip(closer, other, "before the half-close\n");
            // close_notify, then FIN: the other side reads end of stream, with no error...
            await within(closer.closeWrite(), "closeWrite");
            const rest = await readToEnd(other, "the closed half");
            assert.equal(rest.text, "");
            assert.equal(rest.error, undefined, `reading to the end failed: ${String(rest.error)}`);
            // ...and can still answer, which the half-closed side reads (on Bun too: its own
            // sockets upgrade with Bun's native upgradeTLS, which keeps a half-closed session).
            await within(other.write(encode("after the half-close\n")), "the answer after the half-close");
            assert.equal(await readLine(closer, "the answer"), "after the half-close\n");
            await within(other.closeWrite(), "the other closeWrite");
            const end = await readToEnd(closer, "the other half");
            assert.deepEqual(end, { text: "", error: undefined });
          }));
      }
    }

    it("server-side startTls with sni: the certificate is picked by the name the client asks for", async () => {
      const { ca, server: serverCert, other } = await testCertificates();
      const options = { cert: serverCert.cert, key: serverCert.key, sni: { "other.test": { cert: other.cert, key: other.key } } };
      for (const [serverName, expected] of [["other.test", other], ["localhost", serverCert]] as const) {
        await using cleanup = new Cleanup();
        const { client, server } = await tcpPair(net, cleanup);
        const [secureClient, secureServer] = await within(
          Promise.all([cleanup.startTls(client, { ca: ca.cert, serverName }), cleanup.startTls(server, options)]),
          `both handshakes for ${serverName}`,
        );
        assert.equal(secureClient.tls?.peerCertificate?.fingerprint256, expected.fingerprint256, `the certificate served for ${serverName}`);
        assert.equal(secureServer.tls?.serverName, serverName);
        await roundTrip(secureClient, secureServer, `hello ${serverName}\n`);
      }
    });

    it("a client certificate: the server requires one from its CA and sees CN=alice,O=Example", async () => {
      const { ca, server: serverCert, client: clientCert } = await testCertificates();
      await using cleanup = new Cleanup();
      const { client, server } = await tcpPair(net, cleanup);
      const [secureClient, secureServer] = await within(
        Promise.all([
          cleanup.startTls(client, { ca: ca.cert, serverName: "localhost", cert: clientCert.cert, key: clientCert.key }),
          cleanup.startTls(server, { cert: serverCert.cert, key: serverCert.key, ca: ca.cert, clientCertificate: "require" }),
        ]),
        "both handshakes",
      );
      const peer = secureServer.tls?.peerCertificate;
      assert.ok(peer !== null && peer !== undefined, "the server sees the client's certificate");
      assert.equal(peer.subject, "CN=alice,O=Example");
      assert.equal(peer.issuer, "CN=unisock test CA");
      assert.equal(peer.fingerprint256, clientCert.fingerprint256);
      assert.deepEqual(peer.subjectAltNames, ["email:alice@example.test"]);
      assert.equal(secureClient.tls?.peerCertificate?.fingerprint256, serverCert.fingerprint256);
      await roundTrip(secureClient, secureServer, "from alice\n");
      await roundTrip(secureServer, secureClient, "hello alice\n");
    });

    it("a handshake the client refuses (untrusted server): the client gets tls-certificate-untrusted, the server's startTls settles at once", async () => {
      const { untrustedCa, server: serverCert } = await testCertificates();
      await using cleanup = new Cleanup();
      const { client, server } = await tcpPair(net, cleanup);
      const serverUpgrade = cleanup.startTls(server, { cert: serverCert.cert, key: serverCert.key });
      const serverSettled = serverUpgrade.then((secure) => secure, (error: unknown) => error);
      const clientError = await within(
        rejectsWith(cleanup.startTls(client, { ca: untrustedCa.cert, serverName: "localhost" }), "tls-certificate-untrusted"),
        "the client's refusal",
      );
      assert.match(clientError.message, /^startTls \S+:\d+: /, "named by the operation that failed");
      // The server hears of it at once (an alert, or the end of the connection), not at its handshake timeout:
      // its startTls rejects with a TLS code, or (when the client's Finished got out before its refusal,
      // as TLS 1.2 allows) resolves with a connection that ends at once.
      const serverResult = await within(serverSettled, "the server's startTls to settle after the client refused", 5_000);
      if (serverResult instanceof SocketError) {
        assert.equal(serverResult.code, "tls-handshake-failed");
        assert.match(serverResult.message, /^startTls /);
      } else {
        assert.ok(serverResult instanceof Object && "read" in serverResult, `unexpected: ${String(serverResult)}`);
        const rest = await readToEnd(serverResult as Connection, "the refused server connection");
        assert.equal(rest.text, "");
      }
    });

    it("AbortSignal: startTls against a peer that never answers rejects with signal.reason", async () => {
      const { ca, server: serverCert } = await testCertificates();
      {
        // Client side: the server reads the ClientHello and never answers.
        await using cleanup = new Cleanup();
        const { client, server } = await tcpPair(net, cleanup);
        const controller = new AbortController();
        const reason = new Error("the test gave up");
        const timer = setTimeout(() => controller.abort(reason), 200);
        try {
          const started = Date.now();
          await within(
            assert.rejects(client.startTls({ ca: ca.cert }, { signal: controller.signal }), (error) => error === reason),
            "the aborted client handshake",
          );
          assert.ok(Date.now() - started >= 150, "rejected only once aborted");
        } finally {
          clearTimeout(timer);
        }
        // The aborted handshake closed the connection: the server reads the ClientHello, then its end.
        const rest = await readToEnd(server, "the aborted client's bytes");
        assert.ok(rest.error === undefined || rest.error instanceof SocketError, String(rest.error));
        await rejectsWith(client.read(new Uint8Array(1)), "invalid-state");
      }
      {
        // Server side: the client never sends a ClientHello.
        await using cleanup = new Cleanup();
        const { client, server } = await tcpPair(net, cleanup);
        const signal = AbortSignal.timeout(200);
        await within(
          assert.rejects(server.startTls({ cert: serverCert.cert, key: serverCert.key }, { signal }), (error) => error === signal.reason),
          "the aborted server handshake",
        );
        assert.equal(signal.aborted, true);
        const rest = await readToEnd(client, "the aborted server's end");
        assert.equal(rest.text, "");
      }
      {
        // Already aborted: rejects with its reason at once.
        await using cleanup = new Cleanup();
        const { client } = await tcpPair(net, cleanup);
        const reason = new Error("aborted before the start");
        await within(
          assert.rejects(client.startTls({ ca: ca.cert }, { signal: AbortSignal.abort(reason) }), (error) => error === reason),
          "the pre-aborted handshake",
        );
      }
    });
  });
}
