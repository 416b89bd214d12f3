/**
 * Throughput of the Sockets API (`./sockets`, the `connect()` of `cloudflare:sockets`)
 * over 127.0.0.1, against unisock's own `Connection` web streams and against the
 * runtime's own socket, in one process, on whichever runtime runs it.
 *
 *   node bench/sockets.ts [options]
 *   deno run -A bench/sockets.ts [options]
 *   bun bench/sockets.ts [options]
 *
 * Options (each also from the environment):
 *   --mib N          MiB moved per round (BENCH_MIB, default 256)
 *   --rounds N       counted rounds of each side and direction (BENCH_ROUNDS, default 5)
 *   --timeout S      seconds a round may take before the run fails (BENCH_TIMEOUT_S, default 60)
 *   --direction D    `read`, `write` or `both` (default): which way the bytes go, seen
 *                    from the measured client
 *   --only SIDE      run only `sockets`, `streams` or `native` (for profiling one side; no ratio)
 *   --tls            TLS from the start on every side (certificate made by the `openssl`
 *                    command line in a temp dir, removed at once): `sockets` with
 *                    `secureTransport: "on"`, `streams` over `tcp.connect(..., { tls })`;
 *                    no `native` side (bench/tls.ts compares the runtimes' own TLS)
 *   --json           print one JSON line with the figures instead of the table (BENCH_JSON=1);
 *                    the table then goes to stderr
 *
 * Each round opens a fresh unisock listener (the peer, the same for every side) and a
 * fresh connection to it from the measured side, and moves the whole amount in 64 KiB
 * chunks one way. The clock runs from when both ends are connected (with TLS: handshaken)
 * until the receiver has every byte and end of stream.
 *
 * - write: the measured client sends, then half-closes; the peer `read(buffer)`s into one
 *   reused 64 KiB buffer until end of stream.
 * - read: the peer `await write(chunk)`s, then `closeWrite()`; the measured client reads
 *   chunks it owns until end of stream (this is the path that matters for the Sockets API).
 *
 * The sides (the measured client):
 * - sockets: `connect("127.0.0.1:PORT")`, `await socket.opened`; write: one
 *   `socket.writable.getWriter()`, `await writer.write(chunk)` per chunk, then
 *   `writer.close()`; read: `socket.readable.getReader()`, `read()` until done.
 * - streams: `tcp.connect`, the same loops over the `Connection`'s own `writable` and
 *   `readable` (the web streams the Sockets API is built on).
 * - native, Node: `node:net`; write: `write()` until it returns false, then 'drain', then
 *   `end()`; read: counts the bytes of each 'data' chunk until 'end'.
 * - native, Deno: `Deno.connect`; the same web-stream loops as above over `conn.writable`
 *   and `conn.readable` (Deno's own chunks).
 * - native, Bun: `Bun.connect`; write: `socket.write` returns the bytes taken, the rest
 *   goes on 'drain', then `end()`; read: counts the bytes of each `data` chunk until 'end'.
 *
 * A warm-up round of each side and direction comes first and is not counted; then the
 * sides rotate which goes first every round. Figures are medians over the rounds. MB =
 * 10^6 bytes. The table also gives each round's CPU seconds per GB (user + system of the
 * whole process, which holds both ends and the peer), a steadier figure than MB/s on a
 * busy machine. Ratios: sockets over the other side (higher is
 * better); the goal of sockets/streams is 0.95. The last line is
 * `sockets RUNTIME VERSION: read sockets N MB/s, streams N, native N, sockets/streams R,
 * sockets/native R; write ...` (figures: medians over the rounds; ratios: medians over the
 * rounds of the two sides in the same round).
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { tcp } from "../mod.ts";
import type { Connection, IpSocketAddress } from "../mod.ts";
import { connect } from "../sockets/mod.ts";
import type { BunSocket, BunSocketHandler } from "../bun/bun_api.ts";
import { alternatives, clock, globals, makeUsage, median, pad, pairedRatio, positive, round1, round3, runMain, runtime, runtimeVersion, since, walkArgs } from "./common.ts";
import type { Sample, Usage } from "./common.ts";
import { CHUNK, HOST, measure, MIB } from "./stream_throughput.ts";
import type { Defer, Figures, RoundFn } from "./stream_throughput.ts";

const BENCH = "sockets";
/** The goal of sockets/streams (higher is better). */
const GOAL = 0.95;

type Side = "sockets" | "streams" | "native";
const SIDES: readonly Side[] = ["sockets", "streams", "native"];
type Direction = "read" | "write";
const DIRECTIONS: readonly Direction[] = ["read", "write"];

const NATIVE_API = runtime === "deno"
  ? "Deno.connect (conn.readable/conn.writable)"
  : runtime === "bun"
  ? "Bun.connect (data/drain handlers)"
  : "node:net ('data' events, write/'drain')";

/** The bytes sent, never modified, so every write may reuse it. */
const CHUNK_BYTES = new Uint8Array(CHUNK).map((_, i) => i & 0xff);

function checkReceived(side: string, received: number, total: number): void {
  if (received !== total) throw new Error(`${side}: received ${received} bytes, sent ${total}`);
}

// ---------------------------------------------------------------------------
// TLS (--tls)
// ---------------------------------------------------------------------------

/** A self-signed EC P-256 certificate for IP:127.0.0.1, the CA of every client. */
interface Certificate {
  cert: string;
  key: string;
}

function makeCertificate(): Certificate {
  const dir = mkdtempSync(join(tmpdir(), "unisock-bench-sockets-"));
  try {
    const file = (name: string) => join(dir, name);
    try {
      execFileSync("openssl", [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc",
        "-keyout", file("key.pem"), "-out", file("cert.pem"), "-subj", "/CN=localhost", "-days", "2", "-sha256",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE",
        "-addext", "keyUsage=critical,digitalSignature", "-addext", "extendedKeyUsage=serverAuth",
      ], { stdio: ["ignore", "ignore", "pipe"], timeout: 15_000 });
    } catch (error) {
      const stderr = (error as { stderr?: Uint8Array }).stderr;
      const text = stderr === undefined ? "" : `: ${new TextDecoder().decode(stderr).trim()}`;
      throw new Error(`openssl req failed (is the openssl command installed?)${text}`, { cause: error });
    }
    return { cert: readFileSync(file("cert.pem"), "utf8"), key: readFileSync(file("key.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// The measured client, one per side
// ---------------------------------------------------------------------------

/** The measured end of a round: sends `total` bytes then half-closes, or receives to end of stream. */
interface ClientEnd {
  send(total: number): Promise<void>;
  receive(): Promise<number>;
}

type ClientFn = (port: number, defer: Defer) => Promise<ClientEnd>;

/** Writes `total` bytes in 64 KiB chunks, each awaited, then closes the writer. */
async function writeChunks(writable: WritableStream<Uint8Array>, total: number): Promise<void> {
  const writer = writable.getWriter();
  let remaining = total;
  for (; remaining >= CHUNK; remaining -= CHUNK) await writer.write(CHUNK_BYTES);
  if (remaining > 0) await writer.write(CHUNK_BYTES.subarray(0, remaining));
  await writer.close();
}

/** Reads chunks until the stream ends; returns how many bytes came. */
async function readChunks(readable: ReadableStream<Uint8Array>): Promise<number> {
  const reader = readable.getReader();
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return received;
    received += value.length;
  }
}

function socketsClient(certificate: Certificate | undefined): ClientFn {
  return async (port, defer) => {
    const socket = connect(`${HOST}:${port}`, certificate === undefined ? undefined : { secureTransport: "on", ca: certificate.cert });
    defer(() => void socket.close().catch(() => {}));
    await socket.opened;
    return {
      send: (total) => writeChunks(socket.writable as WritableStream<Uint8Array>, total),
      receive: () => readChunks(socket.readable),
    };
  };
}

function streamsClient(certificate: Certificate | undefined): ClientFn {
  return async (port, defer) => {
    const conn = await tcp.connect({ hostname: HOST, port }, certificate === undefined ? {} : { tls: { ca: certificate.cert } });
    defer(() => conn.close());
    return {
      send: (total) => writeChunks(conn.writable, total),
      receive: () => readChunks(conn.readable),
    };
  };
}

function nodeClient(): ClientFn {
  return async (port, defer) => {
    const socket = net.connect({ host: HOST, port });
    defer(() => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return {
      send: (total) =>
        new Promise<void>((resolve, reject) => {
          socket.on("error", reject);
          let remaining = total;
          const pump = (): void => {
            while (remaining > 0) {
              const size = Math.min(remaining, CHUNK);
              remaining -= size;
              if (!socket.write(size === CHUNK ? CHUNK_BYTES : CHUNK_BYTES.subarray(0, size))) {
                socket.once("drain", pump);
                return;
              }
            }
            socket.end(() => resolve());
          };
          pump();
        }),
      receive: () =>
        new Promise<number>((resolve, reject) => {
          let received = 0;
          socket.on("data", (chunk: Buffer) => (received += chunk.length));
          socket.on("end", () => resolve(received));
          socket.on("error", reject);
        }),
    };
  };
}

/** What this bench uses of a `Deno.TcpConn`. */
interface DenoStreamConn {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  close(): void;
}

function denoClient(): ClientFn {
  return async (port, defer) => {
    const conn = (await globals.Deno!.connect({ hostname: HOST, port })) as unknown as DenoStreamConn;
    defer(() => {
      try {
        conn.close();
      } catch {
        // already closed (closing the writable closes a Deno conn)
      }
    });
    return {
      send: (total) => writeChunks(conn.writable, total),
      receive: () => readChunks(conn.readable),
    };
  };
}

interface BunClientState {
  received: number;
  onEnd(): void;
  onError(error: Error): void;
  pump(): void;
}

function bunClient(): ClientFn {
  return async (port, defer) => {
    const state: BunClientState = { received: 0, onEnd: () => {}, onError: () => {}, pump: () => {} };
    const handler: BunSocketHandler<BunClientState> = {
      binaryType: "uint8array",
      data: (_socket, data) => void (state.received += data.length),
      drain: () => state.pump(),
      end: () => state.onEnd(),
      close: (_socket, error) => (error === undefined ? state.onEnd() : state.onError(error)),
      error: (_socket, error) => state.onError(error),
    };
    const socket: BunSocket<BunClientState> = await globals.Bun!.connect<BunClientState>({ hostname: HOST, port, data: state, socket: handler });
    defer(() => socket.terminate());
    return {
      send: (total) =>
        new Promise<void>((resolve, reject) => {
          state.onError = reject;
          state.onEnd = () => reject(new Error("Bun.connect: the socket closed early"));
          let remaining = total;
          let rest: Uint8Array | undefined;
          state.pump = () => {
            for (;;) {
              if (rest === undefined) {
                if (remaining === 0) {
                  state.onEnd = () => {};
                  resolve(); // before end(): Bun runs the 'close' handler within end()
                  socket.end();
                  return;
                }
                const size = Math.min(remaining, CHUNK);
                remaining -= size;
                rest = size === CHUNK ? CHUNK_BYTES : CHUNK_BYTES.subarray(0, size);
              }
              const written = socket.write(rest);
              if (written < rest.length) {
                // Bun keeps nothing it did not take: the rest goes on the next 'drain'.
                if (written > 0) rest = rest.subarray(written);
                return;
              }
              rest = undefined;
            }
          };
          state.pump();
        }),
      receive: () =>
        new Promise<number>((resolve, reject) => {
          state.onError = reject;
          state.onEnd = () => resolve(state.received);
        }),
    };
  };
}

function nativeClient(): ClientFn {
  return runtime === "deno" ? denoClient() : runtime === "bun" ? bunClient() : nodeClient();
}

// ---------------------------------------------------------------------------
// Rounds: the peer is a unisock listener on every side
// ---------------------------------------------------------------------------

/** The peer receives: `read(buffer)` into one reused 64 KiB buffer until end of stream. */
async function peerReceive(peer: Connection<IpSocketAddress>): Promise<number> {
  const buffer = new Uint8Array(CHUNK);
  let received = 0;
  let count: number | null;
  while ((count = await peer.read(buffer)) !== null) received += count;
  return received;
}

/** The peer sends: `await write(chunk)` per 64 KiB, then `closeWrite()`. */
async function peerSend(peer: Connection<IpSocketAddress>, total: number): Promise<void> {
  let remaining = total;
  for (; remaining >= CHUNK; remaining -= CHUNK) await peer.write(CHUNK_BYTES);
  if (remaining > 0) await peer.write(CHUNK_BYTES.subarray(0, remaining));
  await peer.closeWrite();
}

function round(side: Side, client: ClientFn, direction: Direction, certificate: Certificate | undefined): RoundFn {
  return async (total, defer) => {
    const listener = await tcp.listen({ hostname: HOST, port: 0, ...(certificate === undefined ? {} : { tls: certificate }) });
    defer(() => listener.close());
    const accepted = listener.accept();
    const end = await client(listener.localAddress.port, defer);
    const peer = await accepted;
    defer(() => peer.close());
    const start = clock();
    let received: number;
    if (direction === "write") [received] = await Promise.all([peerReceive(peer), end.send(total)]);
    else [received] = await Promise.all([end.receive(), peerSend(peer, total)]);
    const elapsed: Sample = since(start);
    checkReceived(`${side} ${direction}`, received, total);
    return elapsed;
  };
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

interface Options {
  mib: number;
  rounds: number;
  timeoutMs: number;
  directions: Direction[];
  only: Side | undefined;
  tls: boolean;
  json: boolean;
}

function parseOptions(args: string[]): Options {
  const usage: Usage = makeUsage(BENCH, "[--mib N] [--rounds N] [--timeout SECONDS] [--direction read|write|both] [--only sockets|streams|native] [--tls] [--json]");
  const env = process.env;
  const options: Options = {
    mib: positive(usage, "BENCH_MIB", env.BENCH_MIB ?? "256", false),
    rounds: positive(usage, "BENCH_ROUNDS", env.BENCH_ROUNDS ?? "5", true),
    timeoutMs: positive(usage, "BENCH_TIMEOUT_S", env.BENCH_TIMEOUT_S ?? "60", false) * 1000,
    directions: [...DIRECTIONS],
    only: undefined,
    tls: false,
    json: env.BENCH_JSON === "1" || env.BENCH_JSON === "true",
  };
  walkArgs(args, usage, (flag, value) => {
    if (flag === "--mib") options.mib = positive(usage, "--mib", value(), false);
    else if (flag === "--rounds") options.rounds = positive(usage, "--rounds", value(), true);
    else if (flag === "--timeout") options.timeoutMs = positive(usage, "--timeout", value(), false) * 1000;
    else if (flag === "--direction") {
      const text = value();
      if (text === "both") options.directions = [...DIRECTIONS];
      else if (text === "read" || text === "write") options.directions = [text];
      else usage(`--direction takes read, write or both, got ${JSON.stringify(text)}`);
    } else if (flag === "--only") {
      const text = value();
      const side = SIDES.find((name) => name === text);
      if (side === undefined) usage(`--only takes ${alternatives(SIDES)}, got ${JSON.stringify(text)}`);
      options.only = side;
    } else if (flag === "--tls") options.tls = true;
    else if (flag === "--json") options.json = true;
    else return false;
    return true;
  });
  if (options.tls && options.only === "native") usage("--tls has no native side (bench/tls.ts measures the runtimes' own TLS)");
  return options;
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

const mbps = (figures: Figures | undefined) => pad(figures?.mbps.toFixed(1) ?? "-", 10);
const cpu = (figures: Figures | undefined) => pad(figures?.cpuPerGB.toFixed(3) ?? "-", 13);
/** A row of the table: MB/s of each side, then CPU s/GB of each side. */
const cells = (figures: Partial<Record<Side, Figures>>) => `${SIDES.map((side) => mbps(figures[side])).join("")}${SIDES.map((side) => cpu(figures[side])).join("")}`;

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const total = Math.round(options.mib * MIB);
  const print = options.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  const certificate = options.tls ? makeCertificate() : undefined;
  const sides: Side[] = options.only !== undefined ? [options.only] : options.tls ? ["sockets", "streams"] : [...SIDES];
  const clients: Record<Side, ClientFn> = {
    sockets: socketsClient(certificate),
    streams: streamsClient(certificate),
    native: nativeClient(),
  };

  print(
    `${BENCH} on ${runtime} ${runtimeVersion}: ${options.mib} MiB per round over ${HOST}${options.tls ? " with TLS" : ""}, ` +
      `${CHUNK / 1024} KiB chunks, ${options.rounds} rounds of each after a warm-up; the peer is a unisock listener; ` +
      `sockets = connect() streams, streams = tcp.connect's Connection.readable/writable` +
      (sides.includes("native") ? `, native = ${NATIVE_API}` : ""),
  );
  print(
    "MB/s with MB = 10^6 bytes, then CPU s/GB = user + system CPU seconds of the whole process per 10^9 bytes; " +
      "read: the peer sends, the measured client reads; write: the measured client sends",
  );
  print(
    `${"round".padEnd(8)}${"dir".padEnd(7)}${"order".padEnd(24)}${SIDES.map((side) => pad(side, 10)).join("")}` +
      `${SIDES.map((side) => pad(`${side} CPU`, 13)).join("")}`,
  );

  const results: Record<Direction, Record<Side, Figures[]>> = {
    read: { sockets: [], streams: [], native: [] },
    write: { sockets: [], streams: [], native: [] },
  };
  for (let index = 0; index <= options.rounds; index++) {
    // Round 0 is the warm-up; the order rotates so no side always goes first.
    const order = sides.map((_, i) => sides[(i + index) % sides.length]);
    for (const direction of options.directions) {
      const figures: Partial<Record<Side, Figures>> = {};
      for (const side of order) {
        figures[side] = await measure(`${side} ${direction}`, round(side, clients[side], direction, certificate), total, options.timeoutMs);
      }
      if (index > 0) for (const side of order) results[direction][side].push(figures[side]!);
      const label = index === 0 ? "warm-up" : String(index);
      print(
        `${label.padEnd(8)}${direction.padEnd(7)}${order.join(",").padEnd(24)}${cells(figures)}` +
          (index === 0 ? "  (not counted)" : ""),
      );
    }
  }

  const medianOf = (direction: Direction, side: Side): Figures | undefined => {
    const list = results[direction][side];
    if (list.length === 0) return undefined;
    return { mbps: median(list.map((f) => f.mbps)), cpuPerGB: median(list.map((f) => f.cpuPerGB)) };
  };
  const parts: string[] = [];
  const json: Record<string, unknown> = {};
  for (const direction of options.directions) {
    const figures = Object.fromEntries(sides.map((side) => [side, medianOf(direction, side)!])) as Partial<Record<Side, Figures>>;
    print(`${"median".padEnd(8)}${direction.padEnd(7)}${"".padEnd(24)}${cells(figures)}`);
    // Round by round (the sides of a round ran back to back), the median over the rounds.
    const mbpsOf = (side: Side): number[] => results[direction][side].map((f) => f.mbps);
    const ratio = (other: Side): number | undefined =>
      figures.sockets !== undefined && figures[other] !== undefined ? pairedRatio(mbpsOf("sockets"), mbpsOf(other)) : undefined;
    const overStreams = ratio("streams");
    const overNative = ratio("native");
    parts.push(
      `${direction} ` + sides.map((side) => `${side} ${figures[side]!.mbps.toFixed(0)}`).join(", ") + " MB/s" +
        (overStreams === undefined ? "" : `, sockets/streams ${overStreams.toFixed(2)}`) +
        (overNative === undefined ? "" : `, sockets/native ${overNative.toFixed(2)}`),
    );
    const side = (name: Side) =>
      figures[name] === undefined ? undefined : {
        mbps: round1(figures[name]!.mbps),
        cpuSecondsPerGB: round3(figures[name]!.cpuPerGB),
        rounds: results[direction][name].map((f) => ({ mbps: round1(f.mbps), cpuSecondsPerGB: round3(f.cpuPerGB) })),
      };
    json[direction] = {
      sockets: side("sockets"),
      streams: side("streams"),
      native: side("native"),
      socketsOverStreams: overStreams === undefined ? undefined : round3(overStreams),
      socketsOverNative: overNative === undefined ? undefined : round3(overNative),
    };
  }
  const summary = `${BENCH} ${runtime} ${runtimeVersion}${options.tls ? " (TLS)" : ""}: ${parts.join("; ")}`;
  print(summary);
  if (options.json) {
    console.log(JSON.stringify({
      bench: BENCH,
      runtime,
      version: runtimeVersion,
      tls: options.tls,
      nativeApi: sides.includes("native") ? NATIVE_API : undefined,
      units: { mbps: "MB/s, MB = 10^6 bytes, medians", cpuSecondsPerGB: "process CPU seconds per 10^9 bytes, medians" },
      bytesPerRound: total,
      chunkBytes: CHUNK,
      rounds: options.rounds,
      goals: { socketsOverStreams: GOAL },
      ...json,
      summary,
    }));
  }
}

runMain(BENCH, main);
