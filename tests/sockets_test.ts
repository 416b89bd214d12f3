/**
 * The Sockets API (`./sockets`, the `connect()` of `cloudflare:sockets`): addresses and
 * `opened`, streams used before the connection is open, failed connections, bad input,
 * half-close with and without `allowHalfOpen`, `close()` that flushes, `close(reason)`,
 * STARTTLS (against CPython's `ssl` and against a unisock server), TLS from the start
 * with ALPN, the bytes of every `ArrayBufferView`, a capability policy
 * (`network.sockets.connect`) and `await using`. Servers are unisock's own listeners
 * (tests/peers/starttls_server.py for the foreign STARTTLS server).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { IpSocketAddress } from "../core/address.ts";
import type { Connection } from "../core/connection.ts";
import type { Listener } from "../core/listener.ts";
import type { TlsServerOptions } from "../core/tls.ts";
import { createNetwork, tcp } from "../mod.ts";
import { ambientNetwork } from "../network/ambient.ts";
import { connect, Socket, SocketsApiError } from "../sockets/mod.ts";
import { Cleanup as BaseCleanup, closedPort, drain, patternBytes, portOf, STEP_MS, within } from "./helpers.ts";
import { testCertificates } from "./peers/certs.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const encode = (text: string): Uint8Array => encoder.encode(text);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Conn = Connection<IpSocketAddress>;

/** The shared clean-up, which also closes Sockets API sockets. */
class Cleanup extends BaseCleanup {
  /** A socket: closed, and its `closed` awaited (bounded). */
  socket(socket: Socket): Socket {
    return this.add(socket, async (s) => {
      await within(s.close(), "closing a socket");
    });
  }
}

/** A listener on `hostname` (127.0.0.1 by default), closed by `cleanup`. */
async function listen(cleanup: Cleanup, hostname = "127.0.0.1", tls?: TlsServerOptions): Promise<Listener<IpSocketAddress>> {
  const listener = await tcp.listen(tls === undefined ? { hostname, port: 0 } : { hostname, port: 0, tls });
  return cleanup.listener(listener);
}

/** The next accepted connection (bounded), closed by `cleanup`. */
function accept(listener: Listener<IpSocketAddress>, cleanup: Cleanup): Promise<Conn> {
  const accepted = listener.accept();
  accepted.catch(() => {});
  const result = within(accepted, "accept").then((conn) => cleanup.connection(conn));
  result.catch(() => {});
  return result;
}

/** Reads exactly `length` bytes from a unisock connection (bounded). */
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

/** Reads a unisock connection to its end (bounded): the byte count and sha256 of what came. */
function drainConn(conn: Connection, what: string): Promise<{ bytes: number; sha256: string }> {
  return within(drain(conn), `reading ${what} to its end`);
}

/** Reads a unisock connection to its end (bounded) as text. */
async function connText(conn: Connection, what: string): Promise<string> {
  return await within((async () => {
    const buffer = new Uint8Array(4096);
    const streamDecoder = new TextDecoder();
    let text = "";
    let count: number | null;
    while ((count = await conn.read(buffer)) !== null) text += streamDecoder.decode(buffer.subarray(0, count), { stream: true });
    return text + streamDecoder.decode();
  })(), `reading ${what} to its end`);
}

/** Reads from a socket's reader until the text contains `until` (bounded); throws at end of stream before it. */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, until: string, what: string): Promise<string> {
  return await within((async () => {
    const streamDecoder = new TextDecoder();
    let text = "";
    while (!text.includes(until)) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`end of stream while reading ${what}, after ${JSON.stringify(text)}`);
      text += streamDecoder.decode(value, { stream: true });
    }
    return text + streamDecoder.decode();
  })(), `reading ${what}`);
}

/** Reads a socket's reader to its end (bounded); the text. */
async function readerText(reader: ReadableStreamDefaultReader<Uint8Array>, what: string): Promise<string> {
  return await within((async () => {
    const streamDecoder = new TextDecoder();
    let text = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text + streamDecoder.decode();
      text += streamDecoder.decode(value, { stream: true });
    }
  })(), `reading ${what} to its end`);
}

/** Echoes `conn` until its end, then ends its own side. */
async function echo(conn: Connection): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  let count: number | null;
  while ((count = await conn.read(buffer)) !== null) await conn.write(buffer.subarray(0, count));
  await conn.closeWrite();
}

/** Whether `promise` has settled after the event loop ran for `ms`. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  promise.then(() => (settled = true), () => (settled = true));
  await sleep(ms);
  return settled;
}

/** Asserts that `error` is the Sockets API's error: a TypeError, a SocketsApiError, `SocketError: ...`, of `code`. */
function assertSocketsError(error: unknown, code: string, what: string): true {
  assert.ok(error instanceof TypeError, `${what}: a TypeError, not ${String(error)}`);
  assert.ok(error instanceof SocketsApiError, `${what}: a SocketsApiError, not ${String(error)}`);
  assert.equal(error.code, code, `${what}: ${error.message}`);
  assert.match(error.message, /^SocketError: /, what);
  return true;
}

/** Asserts that `work` rejects (bounded) with the Sockets API's error of `code`; returns it. */
async function rejectsWithCode(work: Promise<unknown>, code: string, what: string): Promise<SocketsApiError> {
  let failure: unknown;
  await within(assert.rejects(work, (error) => {
    failure = error;
    return assertSocketsError(error, code, what);
  }), what);
  return failure as SocketsApiError;
}

/** The CPython STARTTLS peer (tests/peers/starttls_server.py), one connection, ended on dispose. */
async function startPythonStarttlsServer(certFile: string, keyFile: string): Promise<{
  port: number;
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

describe("Sockets API: connect()", () => {
  it('"host:port" and { hostname, port } connect; opened gives the addresses and alpn null; "[::1]:port" too; an echo round trip', async () => {
    await using cleanup = new Cleanup();
    for (const hostname of ["127.0.0.1", "::1"]) {
      const listener = await listen(cleanup, hostname);
      const port = portOf(listener);
      const shown = hostname === "::1" ? `[::1]:${port}` : `127.0.0.1:${port}`;
      const forms: (string | { hostname: string; port: number })[] = hostname === "::1"
        ? [shown, { hostname: "::1", port }]
        : [shown, { hostname, port }];
      for (const address of forms) {
        const what = `${JSON.stringify(address)}`;
        const accepted = accept(listener, cleanup);
        const socket = cleanup.socket(connect(address));
        const info = await within(socket.opened, `${what}: opened`);
        const server = await accepted;
        const local = server.remoteAddress;
        const localShown = hostname === "::1" ? `[::1]:${local.port}` : `127.0.0.1:${local.port}`;
        assert.deepEqual(info, { remoteAddress: shown, localAddress: localShown, alpn: null }, what);
        assert.equal(local.address, hostname, what);
        assert.equal(socket.secureTransport, "off");
        assert.equal(socket.upgraded, false);
        const serving = echo(server);
        serving.catch(() => {});
        const writer = socket.writable.getWriter();
        const reader = socket.readable.getReader();
        await within(writer.write(encode(`ping ${what}\n`)), `${what}: write`);
        assert.equal(await readUntil(reader, "\n", `${what}: the echo`), `ping ${what}\n`);
        await within(writer.close(), `${what}: writer.close`);
        assert.equal(await readerText(reader, `${what}: the rest`), "");
        await within(serving, `${what}: the echo server`);
        await within(socket.closed, `${what}: closed`);
      }
    }
  });

  it("the streams are usable before opened settles: a write and a read started right after connect() go through", async () => {
    await using cleanup = new Cleanup();
    const listener = await listen(cleanup);
    const accepted = accept(listener, cleanup);
    const socket = cleanup.socket(connect(`127.0.0.1:${portOf(listener)}`));
    let opened = false;
    socket.opened.then(() => (opened = true), () => {});
    const writer = socket.writable.getWriter();
    const written = writer.write(encode("early bird\n"));
    written.catch(() => {});
    const reader = socket.readable.getReader();
    const read = reader.read();
    read.catch(() => {});
    assert.equal(opened, false, "opened has not settled when connect() returns");
    const server = await accepted;
    const serving = echo(server);
    serving.catch(() => {});
    await within(written, "the early write");
    const first = await within(read, "the early read");
    assert.equal(first.done, false);
    let text = decoder.decode(first.value);
    if (!text.includes("\n")) text += await readUntil(reader, "\n", "the rest of the echo");
    assert.equal(text, "early bird\n");
    assert.equal(opened, true);
  });

  it("a failed connection (a closed port) rejects opened and closed with connection-refused; a read and a write reject too", async () => {
    await using cleanup = new Cleanup();
    const port = await closedPort(ambientNetwork);
    const socket = cleanup.socket(connect({ hostname: "127.0.0.1", port }));
    const reader = socket.readable.getReader();
    const writer = socket.writable.getWriter();
    const read = reader.read();
    read.catch(() => {});
    const openedError = await rejectsWithCode(socket.opened, "connection-refused", "opened");
    assert.match(openedError.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    await rejectsWithCode(socket.closed, "connection-refused", "closed");
    await rejectsWithCode(read, "connection-refused", "a read");
    await rejectsWithCode(writer.write(encode("x")), "connection-refused", "a write");
  });

  it("bad input throws at once a TypeError (SocketsApiError, invalid-argument)", () => {
    const cases: [string, () => unknown][] = [
      ['"nope"', () => connect("nope")],
      ['"host:0"', () => connect("host:0")],
      ['"host:70000"', () => connect("host:70000")],
      ["{ hostname: 1, port: 5 }", () => connect({ hostname: 1, port: 5 } as unknown as { hostname: string; port: number })],
      ['secureTransport: "maybe"', () => connect("127.0.0.1:5", { secureTransport: "maybe" as "on" })],
      ['alpn: "h2"', () => connect("127.0.0.1:5", { alpn: "h2" as unknown as string[] })],
    ];
    for (const [what, call] of cases) {
      assert.throws(call, (error) => assertSocketsError(error, "invalid-argument", what), what);
    }
  });

  it("allowHalfOpen false (default): the peer's half-close ends the readable, ends our write side, and settles closed; a later write rejects", async () => {
    await using cleanup = new Cleanup();
    const listener = await listen(cleanup);
    const accepted = accept(listener, cleanup);
    const socket = cleanup.socket(connect(`127.0.0.1:${portOf(listener)}`));
    const server = await accepted;
    await within(socket.opened, "opened");
    const writer = socket.writable.getWriter();
    const reader = socket.readable.getReader();
    await within(server.write(encode("bye\n")), "the server's write");
    await within(server.closeWrite(), "the server's closeWrite");
    assert.equal(await readerText(reader, "the readable"), "bye\n");
    assert.equal(await connText(server, "what the socket sent"), "", "the server reads end of stream");
    await within(socket.closed, "closed");
    await assert.rejects(within(writer.write(encode("too late")), "the late write"), TypeError);
  });

  it("allowHalfOpen true: after the peer's half-close writes still arrive; writer.close() ends them and settles closed", async () => {
    await using cleanup = new Cleanup();
    const listener = await listen(cleanup);
    const accepted = accept(listener, cleanup);
    const socket = cleanup.socket(connect(`127.0.0.1:${portOf(listener)}`, { allowHalfOpen: true }));
    const server = await accepted;
    await within(socket.opened, "opened");
    const writer = socket.writable.getWriter();
    const reader = socket.readable.getReader();
    await within(server.closeWrite(), "the server's closeWrite");
    assert.equal(await readerText(reader, "the readable"), "");
    assert.equal(await settledWithin(socket.closed, 100), false, "closed waits for our side");
    await within(writer.write(encode("still here\n")), "a write after the peer's end");
    assert.equal(decoder.decode(await readExactly(server, "still here\n".length, "the late line")), "still here\n");
    await within(writer.write(encode("and more\n")), "another write");
    await within(writer.close(), "writer.close");
    assert.equal(await connText(server, "the rest"), "and more\n", "then end of stream");
    await within(socket.closed, "closed");
  });

  it("close() flushes what was written: 8 × 256 KiB written without awaiting all arrive; closed resolves; a later write rejects; twice is fine", async () => {
    await using cleanup = new Cleanup();
    const listener = await listen(cleanup);
    const accepted = accept(listener, cleanup);
    const socket = cleanup.socket(connect(`127.0.0.1:${portOf(listener)}`));
    const server = await accepted;
    const received = drainConn(server, "the socket's bytes");
    received.catch(() => {});
    const writer = socket.writable.getWriter();
    const hash = createHash("sha256");
    const writes: Promise<void>[] = [];
    for (let n = 0; n < 8; n++) {
      const chunk = patternBytes(256 * 1024, 1000 + n);
      hash.update(chunk);
      const write = writer.write(chunk);
      write.catch(() => {});
      writes.push(write);
    }
    await within(socket.close(), "close()");
    const result = await received;
    assert.equal(result.bytes, 8 * 256 * 1024);
    assert.equal(result.sha256, hash.digest("hex"));
    const outcomes = await Promise.allSettled(writes);
    assert.deepEqual(outcomes.map((o) => o.status), Array(8).fill("fulfilled"));
    await within(socket.closed, "closed");
    await assert.rejects(within(writer.write(encode("late")), "the late write"), TypeError);
    await within(socket.close(), "the second close()");
  });

  it("close(reason) with a read pending: the read rejects with reason", async () => {
    await using cleanup = new Cleanup();
    const listener = await listen(cleanup);
    const accepted = accept(listener, cleanup);
    const socket = cleanup.socket(connect(`127.0.0.1:${portOf(listener)}`));
    const server = await accepted;
    await within(socket.opened, "opened");
    const reader = socket.readable.getReader();
    const read = reader.read();
    read.catch(() => {});
    assert.equal(await settledWithin(read, 50), false, "the read waits");
    const reason = new Error("done with it");
    const closing = socket.close(reason);
    await within(assert.rejects(read, (error) => error === reason), "the pending read");
    await within(closing, "close(reason)");
    assert.equal(await connText(server, "after close(reason)"), "");
  });

  it("startTls: not on an \"off\" or an \"on\" socket, only once on a \"starttls\" one; the new socket is \"on\", the old one upgraded and closed", async () => {
    const { ca, server: serverCert } = await testCertificates();
    await using cleanup = new Cleanup();
    const plainListener = await listen(cleanup);
    const tlsListener = await listen(cleanup, "127.0.0.1", { cert: serverCert.cert, key: serverCert.key });

    const plainAccepted = accept(plainListener, cleanup);
    const off = cleanup.socket(connect(`127.0.0.1:${portOf(plainListener)}`));
    assert.throws(() => off.startTls(), (error) => assertSocketsError(error, "invalid-state", '"off"'));
    await within(off.opened, "the plain socket's opened");
    await plainAccepted;

    const on = cleanup.socket(connect(`127.0.0.1:${portOf(tlsListener)}`, { secureTransport: "on", ca: ca.cert }));
    const tlsAccepted = accept(tlsListener, cleanup);
    assert.throws(() => on.startTls(), (error) => assertSocketsError(error, "invalid-state", '"on"'));
    await within(on.opened, "the TLS socket's opened");
    await tlsAccepted;

    const accepted = accept(plainListener, cleanup);
    const plain = cleanup.socket(connect(`127.0.0.1:${portOf(plainListener)}`, { secureTransport: "starttls", ca: ca.cert }));
    assert.equal(plain.secureTransport, "starttls");
    const server = await accepted;
    const serverTls = server.startTls({ cert: serverCert.cert, key: serverCert.key }, { signal: cleanup.signal() });
    serverTls.then((secure) => cleanup.connection(secure), () => {});
    const secure = cleanup.socket(plain.startTls({ expectedServerHostname: "localhost" }));
    assert.throws(() => plain.startTls(), (error) => assertSocketsError(error, "invalid-state", "a second startTls"));
    assert.ok(secure instanceof Socket);
    assert.equal(secure.secureTransport, "on");
    assert.equal(secure.upgraded, false);
    const info = await within(secure.opened, "the new socket's opened");
    assert.equal(info.remoteAddress, `127.0.0.1:${portOf(plainListener)}`);
    await within(serverTls, "the server's startTls");
    assert.equal(plain.upgraded, true);
    assert.equal(plain.secureTransport, "starttls");
    await within(plain.closed, "the old socket's closed (resolves)");
    assert.throws(() => secure.startTls(), (error) => assertSocketsError(error, "invalid-state", "startTls on the new socket"));
  });

  it("STARTTLS against CPython's ssl (starttls_server.py): greeting, STARTTLS, startTls(), a line reversed over TLS", async () => {
    const certs = await testCertificates();
    await using peer = await startPythonStarttlsServer(certs.server.certFile, certs.server.keyFile);
    await using cleanup = new Cleanup();
    const plain = cleanup.socket(connect(`127.0.0.1:${peer.port}`, { secureTransport: "starttls", ca: certs.ca.cert }));
    const reader = plain.readable.getReader();
    const writer = plain.writable.getWriter();
    assert.equal(await readUntil(reader, "\r\n", "the greeting"), "220 ready\r\n");
    await within(writer.write(encode("STARTTLS\r\n")), "STARTTLS");
    assert.equal(await readUntil(reader, "\r\n", "the go-ahead"), "220 go\r\n");
    reader.releaseLock();
    writer.releaseLock();
    const secure = cleanup.socket(plain.startTls({ expectedServerHostname: "localhost" }));
    const info = await within(secure.opened, "the handshake");
    assert.equal(info.remoteAddress, `127.0.0.1:${peer.port}`);
    assert.equal(info.alpn, null);
    const secureWriter = secure.writable.getWriter();
    const secureReader = secure.readable.getReader();
    await within(secureWriter.write(encode("hello python\r\n")), "the line over TLS");
    assert.equal(await readUntil(secureReader, "\r\n", "the reversed line"), "nohtyp olleh\r\n");
    // The peer then ends (close_notify): our readable ends, and (allowHalfOpen false) so does the socket.
    assert.equal(await readerText(secureReader, "the TLS stream"), "");
    await within(secure.closed, "the TLS socket's closed");
    assert.equal(plain.upgraded, true);
    await within(plain.closed, "the old socket's closed");
    const result = await within(peer.done, "the python peer to exit");
    assert.equal(result.code, 0, result.stderr);
  });

  /** A STARTTLS exchange with a unisock server that upgrades its accepted connection. */
  async function unisockStarttls(
    cleanup: Cleanup,
    options: { expectedServerHostname?: string; servername?: string },
  ): Promise<{ secure: Socket; serverTls: Promise<Conn> }> {
    const { ca, server: serverCert } = await testCertificates();
    const listener = await listen(cleanup);
    const accepted = accept(listener, cleanup);
    const plain = cleanup.socket(connect(`127.0.0.1:${portOf(listener)}`, { secureTransport: "starttls", ca: ca.cert }));
    const server = await accepted;
    await within(server.write(encode("220 ready\r\n")), "the greeting");
    const reader = plain.readable.getReader();
    const writer = plain.writable.getWriter();
    assert.equal(await readUntil(reader, "\r\n", "the greeting"), "220 ready\r\n");
    await within(writer.write(encode("STARTTLS\r\n")), "STARTTLS");
    assert.equal(decoder.decode(await readExactly(server, "STARTTLS\r\n".length, "STARTTLS")), "STARTTLS\r\n");
    reader.releaseLock();
    writer.releaseLock();
    const serverTls = server.startTls({ cert: serverCert.cert, key: serverCert.key }, { signal: cleanup.signal() });
    serverTls.then((secure) => cleanup.connection(secure), () => {});
    serverTls.catch(() => {});
    const secure = cleanup.socket(plain.startTls(options));
    return { secure, serverTls };
  }

  /** A line each way over the upgraded socket. */
  async function lineBothWays(secure: Socket, server: Conn): Promise<void> {
    const writer = secure.writable.getWriter();
    const reader = secure.readable.getReader();
    await within(writer.write(encode("hello server\n")), "the client's line");
    assert.equal(decoder.decode(await readExactly(server, "hello server\n".length, "the client's line")), "hello server\n");
    await within(server.write(encode("hello client\n")), "the server's line");
    assert.equal(await readUntil(reader, "\n", "the server's line"), "hello client\n");
    writer.releaseLock();
    reader.releaseLock();
  }

  it("STARTTLS against a unisock server (connection.startTls on the accepted connection), expectedServerHostname", async () => {
    await using cleanup = new Cleanup();
    const { secure, serverTls } = await unisockStarttls(cleanup, { expectedServerHostname: "localhost" });
    const info = await within(secure.opened, "the handshake");
    assert.equal(info.alpn, null);
    const server = await within(serverTls, "the server's startTls");
    assert.equal(server.tls?.serverName, "localhost", "SNI is the expected name");
    await lineBothWays(secure, server);
  });

  it('STARTTLS: startTls({ servername: "localhost" }) (Node\'s spelling) is the name checked and sent', async () => {
    await using cleanup = new Cleanup();
    const { secure, serverTls } = await unisockStarttls(cleanup, { servername: "localhost" });
    await within(secure.opened, "the handshake");
    const server = await within(serverTls, "the server's startTls");
    assert.equal(server.tls?.serverName, "localhost", "SNI is servername");
    await lineBothWays(secure, server);
  });

  it("STARTTLS: a wrong expectedServerHostname rejects the new socket's opened with tls-certificate-name-mismatch", async () => {
    await using cleanup = new Cleanup();
    const { secure } = await unisockStarttls(cleanup, { expectedServerHostname: "other.test" });
    await rejectsWithCode(secure.opened, "tls-certificate-name-mismatch", "the new opened");
    await rejectsWithCode(secure.closed, "tls-certificate-name-mismatch", "the new closed");
  });

  it("STARTTLS, allowHalfOpen false: the peer's half-close over TLS ends the upgraded socket (the server reads end of stream, closed resolves)", async () => {
    await using cleanup = new Cleanup();
    const { secure, serverTls } = await unisockStarttls(cleanup, { expectedServerHostname: "localhost" });
    await within(secure.opened, "the handshake");
    const server = await within(serverTls, "the server's startTls");
    const reader = secure.readable.getReader();
    await within(server.write(encode("bye\n")), "the server's write");
    await within(server.closeWrite(), "the server's closeWrite");
    assert.equal(await readerText(reader, "the TLS readable"), "bye\n");
    assert.equal(await connText(server, "what the upgraded socket sent"), "", "the server reads end of stream");
    await within(secure.closed, "the upgraded socket's closed");
  });

  it('secureTransport "on" with ca and sni: ALPN agreed ("http/1.1" of ["h2", "http/1.1"]), and a round trip', async () => {
    const { ca, server: serverCert } = await testCertificates();
    await using cleanup = new Cleanup();
    const listener = await listen(cleanup, "127.0.0.1", { cert: serverCert.cert, key: serverCert.key, alpn: ["h2", "http/1.1"] });
    const accepted = accept(listener, cleanup);
    const socket = cleanup.socket(connect(`127.0.0.1:${portOf(listener)}`, { secureTransport: "on", ca: ca.cert, sni: "localhost", alpn: ["http/1.1"] }));
    assert.equal(socket.secureTransport, "on");
    const info = await within(socket.opened, "opened");
    assert.equal(info.alpn, "http/1.1");
    assert.equal(info.remoteAddress, `127.0.0.1:${portOf(listener)}`);
    const server = await accepted;
    assert.equal(server.tls?.serverName, "localhost");
    assert.equal(server.tls?.alpn, "http/1.1");
    const serving = echo(server);
    serving.catch(() => {});
    const writer = socket.writable.getWriter();
    const reader = socket.readable.getReader();
    await within(writer.write(encode("over tls\n")), "write");
    assert.equal(await readUntil(reader, "\n", "the echo"), "over tls\n");
  });

  it('secureTransport "on" without ca (the runtime\'s trust store): opened rejects with tls-certificate-untrusted', async () => {
    const { server: serverCert } = await testCertificates();
    await using cleanup = new Cleanup();
    const listener = await listen(cleanup, "127.0.0.1", { cert: serverCert.cert, key: serverCert.key });
    const socket = cleanup.socket(connect(`127.0.0.1:${portOf(listener)}`, { secureTransport: "on", sni: "localhost" }));
    await rejectsWithCode(socket.opened, "tls-certificate-untrusted", "opened");
    await rejectsWithCode(socket.closed, "tls-certificate-untrusted", "closed");
  });

  it("writes send exactly the bytes of any ArrayBufferView (DataView, Uint16Array subarray, Float64Array) and of an ArrayBuffer; a string rejects", async () => {
    await using cleanup = new Cleanup();
    const listener = await listen(cleanup);
    const accepted = accept(listener, cleanup);
    const socket = cleanup.socket(connect(`127.0.0.1:${portOf(listener)}`));
    const server = await accepted;
    const base = Uint8Array.from({ length: 64 }, (_, i) => (i * 7 + 3) & 0xff);
    const dataView = new DataView(base.buffer, 5, 11);
    const words = new Uint16Array(16);
    for (let i = 0; i < words.length; i++) words[i] = 0x0101 * (i + 1) + 0x8000;
    const sub = words.subarray(3, 7);
    assert.equal(sub.byteOffset, 6);
    const doubles = Float64Array.of(1.5, -2.25, Math.PI);
    const arrayBuffer = Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 0x00, 0x7f).buffer;
    const chunks = [dataView, sub, doubles, arrayBuffer];
    const expected = chunks.flatMap((chunk) => [
      ...(chunk instanceof ArrayBuffer ? new Uint8Array(chunk) : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)),
    ]);
    assert.equal(expected.length, 11 + 8 + 24 + 6);
    const writer = socket.writable.getWriter();
    for (const chunk of chunks) await within(writer.write(chunk), `writing a ${chunk.constructor.name}`);
    assert.deepEqual([...(await readExactly(server, expected.length, "the chunks"))], expected);
    await within(assert.rejects(writer.write("text" as unknown as Uint8Array), (error) => assertSocketsError(error, "invalid-argument", "a string")), "the string write");
    assert.equal(await settledWithin(server.read(new Uint8Array(16)), 100), false, "nothing of the string was sent");
  });

  it("a policy applies: network.sockets.connect to the allowed port works, to another port opened is access-denied", async () => {
    await using cleanup = new Cleanup();
    const allowed = await listen(cleanup);
    const other = await listen(cleanup);
    const network = createNetwork({ outbound: [`tcp://127.0.0.1:${portOf(allowed)}`] });
    const accepted = accept(allowed, cleanup);
    const socket = cleanup.socket(network.sockets.connect(`127.0.0.1:${portOf(allowed)}`));
    const info = await within(socket.opened, "the allowed socket's opened");
    assert.equal(info.remoteAddress, `127.0.0.1:${portOf(allowed)}`);
    const server = await accepted;
    const serving = echo(server);
    serving.catch(() => {});
    const writer = socket.writable.getWriter();
    const reader = socket.readable.getReader();
    await within(writer.write(encode("allowed\n")), "write");
    assert.equal(await readUntil(reader, "\n", "the echo"), "allowed\n");

    let reachedOther = false;
    const otherAccept = other.accept();
    otherAccept.then(() => (reachedOther = true), () => {});
    const denied = cleanup.socket(network.sockets.connect({ hostname: "127.0.0.1", port: portOf(other) }));
    const error = await rejectsWithCode(denied.opened, "access-denied", "the denied socket's opened");
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${portOf(other)}`));
    await rejectsWithCode(denied.closed, "access-denied", "the denied socket's closed");
    await sleep(50);
    assert.equal(reachedOther, false, "no connection was made");
  });

  it("await using closes the socket: the server reads what was sent, then end of stream", async () => {
    await using cleanup = new Cleanup();
    const listener = await listen(cleanup);
    const accepted = accept(listener, cleanup);
    let kept: Socket | undefined;
    {
      await using socket = connect(`127.0.0.1:${portOf(listener)}`);
      kept = socket;
      const writer = socket.writable.getWriter();
      void writer.write(encode("last words\n")).catch(() => {});
    }
    const server = await accepted;
    assert.equal(await connText(server, "the disposed socket's bytes"), "last words\n");
    await within(kept.closed, "closed");
  });
});
