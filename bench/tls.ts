/**
 * TLS over 127.0.0.1: unisock's TLS (`tcp.listen({ tls })`, `tcp.connect(remote, { tls })`)
 * against the runtime's own TLS, in one process, on whichever runtime runs it.
 *
 *   node bench/tls.ts [options]
 *   deno run -A bench/tls.ts [options]
 *   bun bench/tls.ts [options]
 *
 * Options (each also from the environment):
 *   --mib N           MiB sent per throughput round (BENCH_MIB, default 256)
 *   --rounds N        counted rounds of each side, for both measures (BENCH_ROUNDS, default 3)
 *   --handshakes N    connect + handshake + close cycles per handshake round (BENCH_HANDSHAKES, default 300)
 *   --concurrency N   cycles under way at once in a handshake round, the same on both sides
 *                     (BENCH_CONCURRENCY, default 1: one after the other)
 *   --timeout S       seconds a round may take before the run fails (BENCH_TIMEOUT_S, default 60)
 *   --json            print one JSON line with the figures instead of the table (BENCH_JSON=1);
 *                     the table then goes to stderr
 *   --only SIDE       run only `unisock` or `native` (for profiling one side; no ratio)
 *
 * The certificates are made at the start by the `openssl` command line (EC P-256: a CA and
 * a server certificate for DNS:localhost and IP:127.0.0.1, signed by it) in a fresh temp dir,
 * read into memory and the dir removed at once; nothing is fetched or kept. Every client
 * trusts only that CA and verifies the server (TLS 1.3, whatever each side negotiates by
 * default; the table says which).
 *
 * 1. Throughput. Each round opens a fresh TLS listener and connection and sends the whole
 *    amount from the client to the accepted server side in 64 KiB writes; the clock runs
 *    from when both ends have finished their handshake until the client finished sending
 *    (close_notify and FIN included) and the server has read every byte up to end of
 *    stream. The receiver of both sides ends with the bytes in one reused 64 KiB buffer of
 *    its own (docs/benchmarks.md: same work on both sides):
 *    - unisock: the server `read(buffer)`s until null; the client `await conn.write(chunk)`
 *      then `closeWrite()` (as in tcp_throughput).
 *    - native, Node: `tls.createServer`/`tls.connect`; the server copies each 'data' chunk
 *      into its buffer; the client writes each chunk once the previous one was taken whole or its callback came
 *      (like unisock's `await write`; the usual "write until false, then 'drain'" loop of
 *      tcp_throughput moved TLS 35-50% slower here, in a run of node:tls alone).
 *    - native, Deno: `Deno.listenTls`/`Deno.connectTls` (both ends `handshake()` before the
 *      clock starts); the server `conn.read(buffer)`s; the client's `write` loop handles
 *      partial writes, then `closeWrite()`.
 *    - native, Bun: `Bun.listen`/`Bun.connect` with `tls`; the ends count as connected at
 *      their `handshake` handler (`Bun.connect` resolves before the handshake, and `open`
 *      fires even when verification failed); the server copies each `data` chunk into its
 *      buffer; `write` returns the bytes taken, the rest goes on 'drain'.
 * 2. Handshakes per second. Each round opens a fresh TLS server and runs N cycles: the
 *    client connects, both ends finish their handshake (the client has verified the server),
 *    then both ends close; handshakes/s = N / the round's time. The cycles are matched to
 *    the server's connections by the client's port, so --concurrency works the same way on
 *    both sides. Every client sets TCP_NODELAY (unisock `noDelay: true`, Node and Bun
 *    `setNoDelay(true)`, Deno `Deno.connect` + `setNoDelay(true)` + `Deno.startTls`, as
 *    `Deno.connectTls`'s connection has no `setNoDelay`): without it, Deno's native client
 *    sends its last handshake flight in two writes and Nagle holds the second back for a
 *    delayed ACK, about 44 ms per handshake here (22 handshakes/s), which would measure the
 *    kernel's timer, not TLS. Closing: unisock `close()`, Node `destroy()`, Deno `close()`,
 *    Bun `end()` (what unisock's close does on each).
 *
 * Who is checked: on Node and Bun the client connects to 127.0.0.1 and sends the server
 * name `localhost` (SNI), which the certificate must name; `Deno.connectTls` has no server
 * name apart from the host it connects to, so on Deno both sides connect to 127.0.0.1 and
 * the certificate must name that IP (no SNI).
 *
 * A warm-up round of each side comes first and is not counted; then the sides alternate,
 * swapping which goes first every round; figures are medians over the rounds. MB = 10^6
 * bytes. The table also gives CPU time (user + system of the whole process, which holds
 * both ends): seconds per GB moved, milliseconds per handshake. The last lines say what each
 * side negotiated and which transport unisock's TLS ran on (node:tls everywhere; on Deno
 * and Bun over Node's `net.Socket` when the driver names one as `tlsSockets`, else over the
 * native socket through a `Duplex`), then
 * `tls RUNTIME VERSION: throughput ... ratio R; handshakes ... ratio R` (figures: medians over
 * the rounds; ratios: medians over the rounds of the two sides in the same round).
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import tls from "node:tls";
import { tcp } from "../mod.ts";
import type { Connection, IpSocketAddress } from "../mod.ts";
import { runtimeDriver } from "../network/runtime_driver.ts";
import {
  alternatives,
  clock,
  globals,
  makeUsage,
  median,
  pad,
  pairedRatio,
  positive,
  round1,
  round3,
  runCleanups,
  runMain,
  runtime,
  runtimeVersion,
  since,
  walkArgs,
} from "./common.ts";
import type { Sample, Usage } from "./common.ts";
import { CHUNK, HOST, measure, MIB } from "./stream_throughput.ts";
import type { Defer, Figures, RoundFn } from "./stream_throughput.ts";

const BENCH = "tls";
/** The goals of the two ratios (unisock over native, higher is better). */
const GOALS = { ratio: 0.95, handshakeRatio: 0.95 };

type Side = "unisock" | "native";
const SIDES: readonly Side[] = ["unisock", "native"];

/** The name the client checks the certificate against, when it can send one apart from the host (not on Deno). */
const SERVER_NAME: string | undefined = runtime === "deno" ? undefined : "localhost";

const NATIVE_API = runtime === "deno"
  ? "Deno.listenTls/Deno.connectTls"
  : runtime === "bun"
  ? "Bun.listen/Bun.connect with tls"
  : "node:tls (tls.createServer/tls.connect)";

/**
 * What unisock's TLS runs on here, for the reader of the ratio: node:tls over Node's
 * `net.Socket`; on Bun, Bun's native `upgradeTLS` on Bun's own socket (bun/tls.ts); on Deno,
 * node:tls over Deno's own socket wrapped in a `Duplex` (node/raw_duplex.ts).
 */
function unisockTransport(): string {
  if (runtime === "node") return "node:tls over net.Socket (the driver hands its socket to tls.connect / a tls.Server)";
  if (runtime === "bun") return "Bun.connect/Bun.listen with tls (bun/native_tls.ts); upgradeTLS for sni, client certificates and startTls";
  return (runtimeDriver as { tlsSockets?: unknown }).tlsSockets !== undefined
    ? "node:tls over Deno's node:net net.Socket (the driver's tlsSockets is Node's driver)"
    : "node:tls over the native Deno.connect/Deno.listen socket through a Duplex (node/raw_duplex.ts)";
}

/** The bytes sent, never modified, so every write may reuse it. */
const CHUNK_BYTES = new Uint8Array(CHUNK).map((_, i) => i & 0xff);

// ---------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------

/** PEM text: the CA the clients trust, and the server's certificate and key. */
interface Certificates {
  ca: string;
  cert: string;
  key: string;
}

const OPENSSL_CONFIG = `
[ req ]
distinguished_name = dn
prompt = no
[ dn ]

[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ server_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
`;

/** Makes a CA and a server certificate with `openssl` in a temp dir, reads them, removes the dir. */
function makeCertificates(): Certificates {
  const dir = mkdtempSync(join(tmpdir(), "unisock-bench-tls-"));
  try {
    const file = (name: string) => join(dir, name);
    writeFileSync(file("openssl.cnf"), OPENSSL_CONFIG);
    const openssl = (args: string[]): void => {
      try {
        execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"], timeout: 15_000 });
      } catch (error) {
        const stderr = (error as { stderr?: Uint8Array }).stderr;
        const text = stderr === undefined ? "" : `: ${new TextDecoder().decode(stderr).trim()}`;
        throw new Error(`openssl ${args[0]} failed (is the openssl command installed?)${text}`, { cause: error });
      }
    };
    const make = (name: string, subject: string, extensions: string, issuer?: string): void =>
      openssl([
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc",
        "-keyout", file(`${name}-key.pem`), "-out", file(`${name}.pem`), "-subj", subject,
        "-days", "2", "-sha256", "-config", file("openssl.cnf"), "-extensions", extensions,
        ...(issuer === undefined ? [] : ["-CA", file(`${issuer}.pem`), "-CAkey", file(`${issuer}-key.pem`)]),
      ]);
    make("ca", "/CN=unisock bench CA", "ca_ext");
    make("server", "/CN=localhost", "server_ext", "ca");
    const read = (name: string) => readFileSync(file(name), "utf8");
    return { ca: read("ca.pem"), cert: read("server.pem"), key: read("server-key.pem") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// The runtimes' TLS APIs, as far as this bench goes
// ---------------------------------------------------------------------------

interface DenoTlsConn {
  readonly localAddr: { port: number };
  readonly remoteAddr: { port: number };
  handshake(): Promise<unknown>;
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
}

interface DenoTlsApi {
  listenTls(options: { hostname: string; port: number; cert: string; key: string }): {
    readonly addr: { port: number };
    accept(): Promise<DenoTlsConn>;
    close(): void;
  };
  connectTls(options: { hostname: string; port: number; caCerts: string[] }): Promise<DenoTlsConn>;
  connect(options: { hostname: string; port: number }): Promise<{ setNoDelay(on?: boolean): void; close(): void }>;
  startTls(conn: { close(): void }, options: { hostname: string; caCerts: string[] }): Promise<DenoTlsConn>;
}

interface BunTlsSocket<T> {
  data: T;
  readonly localPort: number;
  readonly remotePort: number;
  setNoDelay(on?: boolean): boolean;
  getTLSVersion?(): string;
  getCipher?(): { standardName?: string; name: string };
  write(bytes: Uint8Array): number;
  end(): void;
  terminate(): void;
}

interface BunTlsHandler<T> {
  binaryType?: "uint8array";
  open?(socket: BunTlsSocket<T>): void;
  handshake?(socket: BunTlsSocket<T>, success: boolean, authorizationError: Error | null): void;
  data?(socket: BunTlsSocket<T>, data: Uint8Array): void;
  drain?(socket: BunTlsSocket<T>): void;
  end?(socket: BunTlsSocket<T>): void;
  close?(socket: BunTlsSocket<T>, error?: Error): void;
  error?(socket: BunTlsSocket<T>, error: Error): void;
  connectError?(socket: BunTlsSocket<T>, error: Error): void;
}

interface BunTlsApi {
  listen<T>(options: {
    hostname: string;
    port: number;
    tls: { cert: string; key: string };
    socket: BunTlsHandler<T>;
  }): { readonly port: number; stop(closeActiveConnections?: boolean): void };
  connect<T>(options: {
    hostname: string;
    port: number;
    tls: { ca: string; serverName?: string };
    data?: T;
    socket: BunTlsHandler<T>;
  }): Promise<BunTlsSocket<T>>;
}

const denoTls = (): DenoTlsApi => globals.Deno as unknown as DenoTlsApi;
const bunTls = (): BunTlsApi => globals.Bun as unknown as BunTlsApi;

/** The unisock client's TLS options: the same identity as the native client's. */
const unisockClientTls = (certs: Certificates) => SERVER_NAME === undefined ? { ca: certs.ca } : { ca: certs.ca, serverName: SERVER_NAME };

function checkReceived(side: string, received: number, total: number): void {
  if (received !== total) throw new Error(`${side}: received ${received} bytes, sent ${total}`);
}

/** How far the throughput round under way got: said when it times out. */
const progress = { received: 0, sent: false };

function resetProgress(): void {
  progress.received = 0;
  progress.sent = false;
}

/** Why a throughput round that timed out stopped where it did. */
function describeProgress(total: number): string {
  const sender = progress.sent ? "had finished (FIN sent)" : "had not finished";
  const end = progress.received === total && progress.sent ? ": every byte arrived, but the receiver never saw end of stream" : "";
  return `by then the receiver had ${progress.received} of ${total} bytes and the sender ${sender}${end}`;
}

/** Copies `chunk` into `buffer` (from its start, in pieces when it is longer): the native receivers' share of the work. */
function copyInto(buffer: Uint8Array, chunk: Uint8Array): void {
  if (chunk.length <= buffer.length) {
    buffer.set(chunk);
    return;
  }
  for (let offset = 0; offset < chunk.length; offset += buffer.length) {
    buffer.set(chunk.subarray(offset, Math.min(offset + buffer.length, chunk.length)));
  }
}

// ---------------------------------------------------------------------------
// Throughput rounds
// ---------------------------------------------------------------------------

function unisockThroughput(certs: Certificates): RoundFn {
  return async (total, defer) => {
    const listener = await tcp.listen({ hostname: HOST, port: 0, tls: { cert: certs.cert, key: certs.key } });
    defer(() => listener.close());
    const accepted = listener.accept();
    const client = await tcp.connect({ hostname: HOST, port: listener.localAddress.port }, { tls: unisockClientTls(certs) });
    defer(() => client.close());
    const server = await accepted;
    defer(() => server.close());
    resetProgress();
    const start = clock();
    const receiving = (async () => {
      const buffer = new Uint8Array(CHUNK);
      let received = 0;
      let count: number | null;
      while ((count = await server.read(buffer)) !== null) progress.received = received += count;
      return received;
    })();
    const sending = (async () => {
      let remaining = total;
      for (; remaining >= CHUNK; remaining -= CHUNK) await client.write(CHUNK_BYTES);
      if (remaining > 0) await client.write(CHUNK_BYTES.subarray(0, remaining));
      await client.closeWrite();
      progress.sent = true;
    })();
    const [received] = await Promise.all([receiving, sending]);
    const elapsed = since(start);
    checkReceived("unisock", received, total);
    return elapsed;
  };
}

/** A Node TLS server on 127.0.0.1 at a free port; `onSecure` gets each connection whose handshake is done. */
async function nodeServer(certs: Certificates, defer: Defer, onSecure: (socket: tls.TLSSocket) => void): Promise<tls.Server> {
  const server = tls.createServer({ cert: certs.cert, key: certs.key }, onSecure);
  server.on("tlsClientError", () => {});
  defer(() => server.close());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: HOST, port: 0 }, () => resolve());
  });
  return server;
}

/** A Node TLS client, resolved once its handshake is done and the server verified. */
function nodeClient(certs: Certificates, port: number, noDelay = false): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const client = tls.connect({ host: HOST, port, ca: certs.ca, servername: SERVER_NAME });
    if (noDelay) client.setNoDelay(true);
    client.once("secureConnect", () => {
      client.off("error", reject);
      resolve(client);
    });
    client.once("error", reject);
  });
}

function nodeThroughput(certs: Certificates): RoundFn {
  return async (total, defer) => {
    let serverSocket!: tls.TLSSocket;
    let onAccept!: () => void;
    const acceptedPromise = new Promise<void>((resolve) => (onAccept = resolve));
    const server = await nodeServer(certs, defer, (socket) => {
      serverSocket = socket;
      defer(() => socket.destroy());
      onAccept();
    });
    const client = await nodeClient(certs, (server.address() as net.AddressInfo).port);
    defer(() => client.destroy());
    await acceptedPromise;

    resetProgress();
    const start = clock();
    const receiving = new Promise<number>((resolve, reject) => {
      const buffer = new Uint8Array(CHUNK);
      let received = 0;
      serverSocket.on("data", (chunk: Buffer) => {
        copyInto(buffer, chunk);
        progress.received = received += chunk.length;
      });
      serverSocket.on("end", () => resolve(received));
      serverSocket.on("error", reject);
    });
    const sending = new Promise<void>((resolve, reject) => {
      client.on("error", reject);
      let remaining = total;
      // One write at a time, as unisock's `await write` does: the next at once when the TLS
      // socket took the whole write (write() true, nothing buffered), else from its callback.
      // (The usual loop "write until write() returns false, then wait for 'drain'" moved TLS
      // about 35% slower here.)
      const next = (): void => {
        if (remaining === 0) {
          client.end(() => {
            progress.sent = true;
            resolve();
          });
          return;
        }
        const size = Math.min(remaining, CHUNK);
        remaining -= size;
        let continued = false;
        const flushed = client.write(size === CHUNK ? CHUNK_BYTES : CHUNK_BYTES.subarray(0, size), (error) => {
          if (error) {
            reject(error);
            return;
          }
          if (!continued) {
            continued = true;
            next();
          }
        });
        if (flushed && client.writableLength === 0 && !client.destroyed) {
          continued = true;
          queueMicrotask(next);
        }
      };
      next();
    });
    const [received] = await Promise.all([receiving, sending]);
    const elapsed = since(start);
    checkReceived("node:tls", received, total);
    return elapsed;
  };
}

function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

function denoThroughput(certs: Certificates): RoundFn {
  return async (total, defer) => {
    const deno = denoTls();
    const listener = deno.listenTls({ hostname: HOST, port: 0, cert: certs.cert, key: certs.key });
    defer(() => closeQuietly(listener));
    const accepted = listener.accept();
    const client = await deno.connectTls({ hostname: HOST, port: listener.addr.port, caCerts: [certs.ca] });
    defer(() => closeQuietly(client));
    const server = await accepted;
    defer(() => closeQuietly(server));
    await Promise.all([client.handshake(), server.handshake()]);

    resetProgress();
    const start = clock();
    const receiving = (async () => {
      const buffer = new Uint8Array(CHUNK);
      let received = 0;
      let count: number | null;
      while ((count = await server.read(buffer)) !== null) progress.received = received += count;
      return received;
    })();
    const sending = (async () => {
      let remaining = total;
      while (remaining > 0) {
        const size = Math.min(remaining, CHUNK);
        const bytes = size === CHUNK ? CHUNK_BYTES : CHUNK_BYTES.subarray(0, size);
        let offset = await client.write(bytes);
        while (offset < size) offset += await client.write(bytes.subarray(offset));
        remaining -= size;
      }
      await client.closeWrite();
      progress.sent = true;
    })();
    const [received] = await Promise.all([receiving, sending]);
    const elapsed = since(start);
    checkReceived("Deno.connectTls", received, total);
    return elapsed;
  };
}

interface BunClientState {
  pump(): void;
}

/** Settles on a Bun socket's `handshake` handler: resolves when it succeeded (the peer verified, on a client). */
function handshakeOutcome(side: string, success: boolean, authorizationError: Error | null): Error | undefined {
  if (success && authorizationError === null) return undefined;
  return authorizationError ?? new Error(`Bun ${side}: the TLS handshake failed`);
}

function bunThroughput(certs: Certificates): RoundFn {
  return async (total, defer) => {
    const bun = bunTls();
    const buffer = new Uint8Array(CHUNK);
    let received = 0;
    let onAccept!: () => void;
    let onAcceptError!: (error: Error) => void;
    const acceptedPromise = new Promise<void>((resolve, reject) => {
      onAccept = resolve;
      onAcceptError = reject;
    });
    let onEnd!: (received: number) => void;
    let onServerError!: (error: Error) => void;
    const receiving = new Promise<number>((resolve, reject) => {
      onEnd = resolve;
      onServerError = reject;
    });
    const listener = bun.listen<undefined>({
      hostname: HOST,
      port: 0,
      tls: { cert: certs.cert, key: certs.key },
      socket: {
        binaryType: "uint8array",
        open: (socket) => defer(() => socket.terminate()),
        // A server that asks for no client certificate reports `success` without one.
        handshake: (_socket, success) => (success ? onAccept() : onAcceptError(new Error("Bun.listen: the TLS handshake failed"))),
        data: (_socket, data) => {
          copyInto(buffer, data);
          progress.received = received += data.length;
        },
        end: () => onEnd(received),
        close: () => onEnd(received),
        error: (_socket, error) => onServerError(error),
      },
    });
    defer(() => listener.stop(true));

    let onClientReady!: () => void;
    let onClientError!: (error: Error) => void;
    const clientReady = new Promise<void>((resolve, reject) => {
      onClientReady = resolve;
      onClientError = reject;
    });
    const client = await bun.connect<BunClientState | undefined>({
      hostname: HOST,
      port: listener.port,
      tls: { ca: certs.ca, serverName: SERVER_NAME },
      data: undefined,
      socket: {
        binaryType: "uint8array",
        handshake: (_socket, success, authorizationError) => {
          const failure = handshakeOutcome("client", success, authorizationError);
          if (failure === undefined) onClientReady();
          else onClientError(failure);
        },
        drain: (socket) => socket.data?.pump(),
        error: (_socket, error) => onClientError(error),
        close: (_socket, error) => onClientError(error ?? new Error("Bun.connect: the socket closed early")),
      },
    });
    defer(() => client.terminate());
    await Promise.all([clientReady, acceptedPromise]);

    resetProgress();
    const start = clock();
    const sending = new Promise<void>((resolve, reject) => {
      onClientError = reject;
      let remaining = total;
      let rest: Uint8Array | undefined;
      client.data = {
        pump() {
          for (;;) {
            if (rest === undefined) {
              if (remaining === 0) {
                progress.sent = true;
                resolve(); // before end(): Bun runs the 'close' handler within end()
                client.end();
                return;
              }
              const size = Math.min(remaining, CHUNK);
              remaining -= size;
              rest = size === CHUNK ? CHUNK_BYTES : CHUNK_BYTES.subarray(0, size);
            }
            const written = client.write(rest);
            if (written < rest.length) {
              // Bun keeps nothing it did not take: the rest goes on the next 'drain'.
              if (written > 0) rest = rest.subarray(written);
              return;
            }
            rest = undefined;
          }
        },
      };
      client.data.pump();
    });
    const [count] = await Promise.all([receiving, sending]);
    const elapsed = since(start);
    checkReceived("Bun.connect", count, total);
    return elapsed;
  };
}

// ---------------------------------------------------------------------------
// Handshake rounds
// ---------------------------------------------------------------------------

/** One handshake round: `count` cycles, `concurrency` at a time, against a fresh server; returns the round's time. */
type HandshakeFn = (count: number, concurrency: number, defer: Defer) => Promise<Sample>;

/**
 * Pairs each client with the server's end of the same connection, by the client's port
 * (the server's remote port): whichever arrives first waits for the other.
 */
class Pairing<T> {
  readonly #arrived = new Map<number, T>();
  readonly #waiting = new Map<number, (end: T) => void>();

  arrive(port: number, end: T): void {
    const waiter = this.#waiting.get(port);
    if (waiter === undefined) {
      this.#arrived.set(port, end);
      return;
    }
    this.#waiting.delete(port);
    waiter(end);
  }

  take(port: number): Promise<T> {
    const end = this.#arrived.get(port);
    if (end !== undefined) {
      this.#arrived.delete(port);
      return Promise.resolve(end);
    }
    return new Promise((resolve) => this.#waiting.set(port, resolve));
  }
}

/** Runs `count` cycles, `concurrency` at once, and times them all. */
async function cycles(count: number, concurrency: number, cycle: () => Promise<void>): Promise<Sample> {
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < count) {
      started++;
      await cycle();
    }
  };
  const start = clock();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return since(start);
}

function unisockHandshakes(certs: Certificates): HandshakeFn {
  return async (count, concurrency, defer) => {
    const listener = await tcp.listen({ hostname: HOST, port: 0, tls: { cert: certs.cert, key: certs.key } });
    defer(() => listener.close());
    const servers = new Pairing<Connection<IpSocketAddress>>();
    void (async () => {
      for (;;) {
        let conn: Connection<IpSocketAddress>;
        try {
          conn = await listener.accept();
        } catch {
          return; // the listener closed
        }
        servers.arrive(conn.remoteAddress.port, conn);
      }
    })();
    const remote = { hostname: HOST, port: listener.localAddress.port };
    const options = { tls: unisockClientTls(certs), noDelay: true };
    return await cycles(count, concurrency, async () => {
      const client = await tcp.connect(remote, options);
      const server = await servers.take(client.localAddress.port);
      client.close();
      server.close();
    });
  };
}

function nodeHandshakes(certs: Certificates): HandshakeFn {
  return async (count, concurrency, defer) => {
    const servers = new Pairing<tls.TLSSocket>();
    const server = await nodeServer(certs, defer, (socket) => {
      socket.on("error", () => {});
      servers.arrive(socket.remotePort!, socket);
    });
    const port = (server.address() as net.AddressInfo).port;
    return await cycles(count, concurrency, async () => {
      const client = await nodeClient(certs, port, true);
      client.on("error", () => {});
      const serverSocket = await servers.take(client.localPort!);
      client.destroy();
      serverSocket.destroy();
    });
  };
}

function denoHandshakes(certs: Certificates): HandshakeFn {
  return async (count, concurrency, defer) => {
    const deno = denoTls();
    const listener = deno.listenTls({ hostname: HOST, port: 0, cert: certs.cert, key: certs.key });
    defer(() => closeQuietly(listener));
    const servers = new Pairing<DenoTlsConn>();
    void (async () => {
      for (;;) {
        let conn: DenoTlsConn;
        try {
          conn = await listener.accept();
        } catch {
          return; // the listener closed
        }
        conn.handshake().then(() => servers.arrive(conn.remoteAddr.port, conn), () => closeQuietly(conn));
      }
    })();
    const port = listener.addr.port;
    return await cycles(count, concurrency, async () => {
      // Deno.connectTls's connection has no setNoDelay: TCP_NODELAY needs Deno.connect + Deno.startTls.
      const tcpConn = await deno.connect({ hostname: HOST, port });
      tcpConn.setNoDelay(true);
      const client = await deno.startTls(tcpConn, { hostname: HOST, caCerts: [certs.ca] });
      try {
        await client.handshake();
      } catch (error) {
        closeQuietly(client);
        throw error;
      }
      const server = await servers.take(client.localAddr.port);
      closeQuietly(client);
      closeQuietly(server);
    });
  };
}

interface BunCycleState {
  ready(): void;
  fail(error: Error): void;
}

function bunHandshakes(certs: Certificates): HandshakeFn {
  return async (count, concurrency, defer) => {
    const bun = bunTls();
    const servers = new Pairing<BunTlsSocket<undefined>>();
    const listener = bun.listen<undefined>({
      hostname: HOST,
      port: 0,
      tls: { cert: certs.cert, key: certs.key },
      socket: {
        binaryType: "uint8array",
        handshake: (socket, success) => {
          if (success) servers.arrive(socket.remotePort, socket);
          else socket.terminate();
        },
        data: () => {},
        error: () => {},
      },
    });
    defer(() => listener.stop(true));
    const handler: BunTlsHandler<BunCycleState> = {
      binaryType: "uint8array",
      open: (socket) => void socket.setNoDelay(true),
      handshake: (socket, success, authorizationError) => {
        const failure = handshakeOutcome("client", success, authorizationError);
        if (failure === undefined) socket.data.ready();
        else socket.data.fail(failure);
      },
      data: () => {},
      error: (socket, error) => socket.data.fail(error),
      connectError: (socket, error) => socket.data.fail(error),
      close: (socket, error) => socket.data.fail(error ?? new Error("Bun.connect: the socket closed during the handshake")),
    };
    return await cycles(count, concurrency, async () => {
      let state!: BunCycleState;
      const ready = new Promise<void>((resolve, reject) => (state = { ready: resolve, fail: reject }));
      const client = await bun.connect<BunCycleState>({
        hostname: HOST,
        port: listener.port,
        tls: { ca: certs.ca, serverName: SERVER_NAME },
        data: state,
        socket: handler,
      });
      try {
        await ready;
      } catch (error) {
        client.terminate();
        throw error;
      }
      const server = await servers.take(client.localPort);
      // Later handlers of this socket (its 'close') settle nothing any more.
      client.data = { ready: () => {}, fail: () => {} };
      client.end();
      server.end();
    });
  };
}

/** Runs one handshake round under a deadline, then closes everything it opened. */
async function measureHandshakes(label: string, round: HandshakeFn, count: number, concurrency: number, timeoutMs: number): Promise<HandshakeFigures> {
  const cleanups: (() => void)[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label} handshake round did not finish within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    const sample = await Promise.race([round(count, concurrency, (cleanup) => cleanups.push(cleanup)), timeout]);
    return { perSecond: count / (sample.wallMs / 1000), cpuMsPerHandshake: sample.cpuMs / count };
  } finally {
    clearTimeout(timer);
    runCleanups(cleanups);
  }
}

interface HandshakeFigures {
  perSecond: number;
  cpuMsPerHandshake: number;
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

interface Options {
  mib: number;
  rounds: number;
  handshakes: number;
  concurrency: number;
  timeoutMs: number;
  json: boolean;
  only: Side | undefined;
}

function parseOptions(args: string[]): Options {
  const usage: Usage = makeUsage(
    BENCH,
    `[--mib N] [--rounds N] [--handshakes N] [--concurrency N] [--timeout SECONDS] [--json] [--only ${SIDES.join("|")}]`,
  );
  const env = process.env;
  const options: Options = {
    mib: positive(usage, "BENCH_MIB", env.BENCH_MIB ?? "256", false),
    rounds: positive(usage, "BENCH_ROUNDS", env.BENCH_ROUNDS ?? "3", true),
    handshakes: positive(usage, "BENCH_HANDSHAKES", env.BENCH_HANDSHAKES ?? "300", true),
    concurrency: positive(usage, "BENCH_CONCURRENCY", env.BENCH_CONCURRENCY ?? "1", true),
    timeoutMs: positive(usage, "BENCH_TIMEOUT_S", env.BENCH_TIMEOUT_S ?? "60", false) * 1000,
    json: env.BENCH_JSON === "1" || env.BENCH_JSON === "true",
    only: undefined,
  };
  const isSide = (text: string | undefined): text is Side => SIDES.some((side) => side === text);
  walkArgs(args, usage, (flag, value) => {
    if (flag === "--mib") options.mib = positive(usage, "--mib", value(), false);
    else if (flag === "--rounds") options.rounds = positive(usage, "--rounds", value(), true);
    else if (flag === "--handshakes") options.handshakes = positive(usage, "--handshakes", value(), true);
    else if (flag === "--concurrency") options.concurrency = positive(usage, "--concurrency", value(), true);
    else if (flag === "--timeout") options.timeoutMs = positive(usage, "--timeout", value(), false) * 1000;
    else if (flag === "--json") options.json = true;
    else if (flag === "--only") {
      const text = value();
      if (!isSide(text)) usage(`--only takes ${alternatives(SIDES)}, got ${JSON.stringify(text)}`);
      options.only = text;
    } else return false;
    return true;
  });
  return options;
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

/** Round 0 is the warm-up; the order alternates so neither side always goes first. */
function orderOf(round: number, only: Side | undefined): Side[] {
  if (only !== undefined) return [only];
  return round % 2 === 0 ? ["unisock", "native"] : ["native", "unisock"];
}

/** Reports the protocol and cipher each side negotiates (one extra connection of each, not timed). */
async function negotiated(certs: Certificates): Promise<{ unisock: string; native: string }> {
  const listener = await tcp.listen({ hostname: HOST, port: 0, tls: { cert: certs.cert, key: certs.key } });
  let unisock: string;
  try {
    const accepted = listener.accept();
    const client = await tcp.connect({ hostname: HOST, port: listener.localAddress.port }, { tls: unisockClientTls(certs) });
    const server = await accepted;
    unisock = `${client.tls?.protocol} ${client.tls?.cipher}`;
    client.close();
    server.close();
  } finally {
    listener.close();
  }
  let native = "?";
  if (runtime === "node") {
    const cleanups: (() => void)[] = [];
    try {
      const server = await nodeServer(certs, (cleanup) => cleanups.push(cleanup), (socket) => socket.destroy());
      const client = await nodeClient(certs, (server.address() as net.AddressInfo).port);
      client.on("error", () => {});
      native = `${client.getProtocol()} ${client.getCipher().standardName}`;
      client.destroy();
    } finally {
      runCleanups(cleanups);
    }
  } else if (runtime === "deno") {
    native = "rustls (Deno.TlsConn reports neither version nor cipher)";
  } else {
    const bun = bunTls();
    const listener = bun.listen<undefined>({
      hostname: HOST,
      port: 0,
      tls: { cert: certs.cert, key: certs.key },
      socket: { data: () => {}, error: () => {} },
    });
    try {
      native = await new Promise<string>((resolve, reject) => {
        void bun.connect<undefined>({
          hostname: HOST,
          port: listener.port,
          tls: { ca: certs.ca, serverName: SERVER_NAME },
          socket: {
            data: () => {},
            handshake: (socket, success, authorizationError) => {
              const failure = handshakeOutcome("client", success, authorizationError);
              if (failure !== undefined) reject(failure);
              const cipher = socket.getCipher?.();
              resolve(`${socket.getTLSVersion?.() ?? "?"} ${cipher?.standardName ?? cipher?.name ?? "?"}`);
              socket.end();
            },
            error: (_socket, error) => reject(error),
          },
        }).catch(reject);
      });
    } finally {
      listener.stop(true);
    }
  }
  return { unisock, native };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const total = Math.round(options.mib * MIB);
  const print = options.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  const certs = makeCertificates();
  const transport = unisockTransport();

  const throughputRounds: Record<Side, RoundFn> = {
    unisock: unisockThroughput(certs),
    native: runtime === "deno" ? denoThroughput(certs) : runtime === "bun" ? bunThroughput(certs) : nodeThroughput(certs),
  };
  const handshakeRounds: Record<Side, HandshakeFn> = {
    unisock: unisockHandshakes(certs),
    native: runtime === "deno" ? denoHandshakes(certs) : runtime === "bun" ? bunHandshakes(certs) : nodeHandshakes(certs),
  };
  const identity = SERVER_NAME === undefined ? `the server is checked as ${HOST} (no SNI)` : `the server is checked as ${SERVER_NAME} (SNI)`;

  print(
    `${BENCH} on ${runtime} ${runtimeVersion}: native = ${NATIVE_API}; EC P-256 certificates from openssl; ` +
      `clients connect to ${HOST}, ${identity}; ${options.rounds} rounds of each side after a warm-up`,
  );

  // Throughput
  print("");
  print(`throughput: ${options.mib} MiB per round, ${CHUNK / 1024} KiB writes, both receivers end with the bytes in a reused ${CHUNK / 1024} KiB buffer`);
  print("MB/s with MB = 10^6 bytes; CPU s/GB = user + system CPU seconds of the whole process per 10^9 bytes");
  const throughputRow = (label: string, order: string, unisock?: Figures, native?: Figures, note = "") => {
    const mbps = (figures?: Figures) => pad(figures?.mbps.toFixed(1) ?? "-", 13);
    const cpu = (figures?: Figures) => pad(figures?.cpuPerGB.toFixed(3) ?? "-", 14);
    return `${label.padEnd(8)}${order.padEnd(16)}${mbps(unisock)}${mbps(native)}${cpu(unisock)}${cpu(native)}${note}`;
  };
  print(`${"round".padEnd(8)}${"order".padEnd(16)}${pad("unisock MB/s", 13)}${pad("native MB/s", 13)}${pad("unisock CPU", 14)}${pad("native CPU", 14)}`);
  const throughput: Record<Side, Figures[]> = { unisock: [], native: [] };
  for (let round = 0; round <= options.rounds; round++) {
    const order = orderOf(round, options.only);
    const figures: Partial<Record<Side, Figures>> = {};
    for (const side of order) {
      try {
        figures[side] = await measure(side, throughputRounds[side], total, options.timeoutMs);
      } catch (error) {
        throw new Error(`${error instanceof Error ? error.message : String(error)}; ${describeProgress(total)}`, { cause: error });
      }
    }
    if (round > 0) for (const side of order) throughput[side].push(figures[side]!);
    print(throughputRow(round === 0 ? "warm-up" : String(round), order.join(","), figures.unisock, figures.native, round === 0 ? "  (not counted)" : ""));
  }
  const throughputMedian = (side: Side): Figures | undefined =>
    throughput[side].length === 0 ? undefined : {
      mbps: median(throughput[side].map((f) => f.mbps)),
      cpuPerGB: median(throughput[side].map((f) => f.cpuPerGB)),
    };
  const tu = throughputMedian("unisock");
  const tn = throughputMedian("native");
  print(throughputRow("median", "", tu, tn));

  // Handshakes
  print("");
  print(
    `handshakes: ${options.handshakes} connect + handshake (both ends) + close cycles per round, ${options.concurrency} at a time, ` +
      "a fresh server per round",
  );
  print("CPU ms = user + system CPU milliseconds of the whole process (client and server) per handshake");
  const handshakeRow = (label: string, order: string, unisock?: HandshakeFigures, native?: HandshakeFigures, note = "") => {
    const rate = (figures?: HandshakeFigures) => pad(figures?.perSecond.toFixed(0) ?? "-", 13);
    const cpu = (figures?: HandshakeFigures) => pad(figures?.cpuMsPerHandshake.toFixed(3) ?? "-", 14);
    return `${label.padEnd(8)}${order.padEnd(16)}${rate(unisock)}${rate(native)}${cpu(unisock)}${cpu(native)}${note}`;
  };
  print(`${"round".padEnd(8)}${"order".padEnd(16)}${pad("unisock /s", 13)}${pad("native /s", 13)}${pad("unisock CPU", 14)}${pad("native CPU", 14)}`);
  const handshakes: Record<Side, HandshakeFigures[]> = { unisock: [], native: [] };
  for (let round = 0; round <= options.rounds; round++) {
    const order = orderOf(round, options.only);
    const figures: Partial<Record<Side, HandshakeFigures>> = {};
    for (const side of order) {
      figures[side] = await measureHandshakes(side, handshakeRounds[side], options.handshakes, options.concurrency, options.timeoutMs);
    }
    if (round > 0) for (const side of order) handshakes[side].push(figures[side]!);
    print(handshakeRow(round === 0 ? "warm-up" : String(round), order.join(","), figures.unisock, figures.native, round === 0 ? "  (not counted)" : ""));
  }
  const handshakeMedian = (side: Side): HandshakeFigures | undefined =>
    handshakes[side].length === 0 ? undefined : {
      perSecond: median(handshakes[side].map((f) => f.perSecond)),
      cpuMsPerHandshake: median(handshakes[side].map((f) => f.cpuMsPerHandshake)),
    };
  const hu = handshakeMedian("unisock");
  const hn = handshakeMedian("native");
  print(handshakeRow("median", "", hu, hn));

  const sessions = await negotiated(certs);
  print("");
  print(`negotiated: unisock ${sessions.unisock}; native ${sessions.native}`);
  print(`unisock's TLS on ${runtime}: ${transport}`);

  // Round by round (both sides of a round ran back to back), the median over the rounds.
  const ratio = tu !== undefined && tn !== undefined
    ? pairedRatio(throughput.unisock.map((f) => f.mbps), throughput.native.map((f) => f.mbps))
    : undefined;
  const handshakeRatio = hu !== undefined && hn !== undefined
    ? pairedRatio(handshakes.unisock.map((f) => f.perSecond), handshakes.native.map((f) => f.perSecond))
    : undefined;
  const figure = (side: Side) => {
    const t = side === "unisock" ? tu : tn;
    const h = side === "unisock" ? hu : hn;
    return t === undefined || h === undefined ? undefined : `${side} ${t.mbps.toFixed(0)} MB/s, ${h.perSecond.toFixed(0)} handshakes/s`;
  };
  const summary = options.only !== undefined
    ? `${BENCH} ${runtime} ${runtimeVersion}: ${options.only} only, ${figure(options.only)}`
    : `${BENCH} ${runtime} ${runtimeVersion}: throughput unisock ${tu!.mbps.toFixed(0)} MB/s, native ${tn!.mbps.toFixed(0)} MB/s, ` +
      `ratio ${ratio!.toFixed(2)}; handshakes unisock ${hu!.perSecond.toFixed(0)}/s, native ${hn!.perSecond.toFixed(0)}/s, ` +
      `ratio ${handshakeRatio!.toFixed(2)}`;
  print(summary);

  if (options.json) {
    const throughputSide = (side: Side) => {
      const m = throughputMedian(side);
      if (m === undefined) return undefined;
      return {
        mbps: round1(m.mbps),
        cpuSecondsPerGB: round3(m.cpuPerGB),
        rounds: throughput[side].map((f) => ({ mbps: round1(f.mbps), cpuSecondsPerGB: round3(f.cpuPerGB) })),
      };
    };
    const handshakeSide = (side: Side) => {
      const m = handshakeMedian(side);
      if (m === undefined) return undefined;
      return {
        perSecond: round1(m.perSecond),
        cpuMsPerHandshake: round3(m.cpuMsPerHandshake),
        rounds: handshakes[side].map((f) => ({ perSecond: round1(f.perSecond), cpuMsPerHandshake: round3(f.cpuMsPerHandshake) })),
      };
    };
    const maybe = (value: number | undefined) => (value === undefined ? undefined : round3(value));
    console.log(JSON.stringify({
      bench: BENCH,
      runtime,
      version: runtimeVersion,
      nativeApi: NATIVE_API,
      unisockTransport: transport,
      negotiated: sessions,
      serverName: SERVER_NAME ?? null,
      only: options.only,
      units: {
        mbps: "MB/s, MB = 10^6 bytes, medians",
        cpuSecondsPerGB: "process CPU seconds per 10^9 bytes, medians",
        perSecond: "connect + handshake + close cycles per second, medians",
        cpuMsPerHandshake: "process CPU milliseconds per cycle, medians",
      },
      bytesPerRound: total,
      chunkBytes: CHUNK,
      rounds: options.rounds,
      handshakesPerRound: options.handshakes,
      concurrency: options.concurrency,
      throughput: { unisock: throughputSide("unisock"), native: throughputSide("native"), ratio: maybe(ratio) },
      handshakes: { unisock: handshakeSide("unisock"), native: handshakeSide("native"), ratio: maybe(handshakeRatio) },
      ratio: maybe(ratio),
      handshakeRatio: maybe(handshakeRatio),
      goals: GOALS,
      summary,
    }));
  }
}

runMain(BENCH, main);
