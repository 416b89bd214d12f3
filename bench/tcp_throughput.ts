/**
 * TCP throughput over 127.0.0.1: unisock against the runtime's own socket API, in one
 * process, on whichever runtime runs it.
 *
 *   node bench/tcp_throughput.ts [options]
 *   deno run -A bench/tcp_throughput.ts [options]
 *   bun bench/tcp_throughput.ts [options]
 *
 * Options (each also from the environment):
 *   --mib N        MiB sent per round (BENCH_MIB, default 1024)
 *   --rounds N     counted rounds of each side (BENCH_ROUNDS, default 3)
 *   --timeout S    seconds a round may take before the run fails (BENCH_TIMEOUT_S, default 60)
 *   --json         print one JSON line with the figures instead of the table (BENCH_JSON=1);
 *                  the table then goes to stderr
 *   --only SIDE    run only `unisock` or `native` (for profiling one side; no ratio)
 *
 * Each round opens a fresh listener and connection and sends the whole amount from a
 * client to the accepted server side in 64 KiB chunks; the clock runs from when both ends
 * are connected until the client finished sending (FIN included) and the server has read
 * every byte up to end of stream. A warm-up round of each side comes first and is not
 * counted; then the sides alternate, swapping which goes first every round. MB = 10^6 bytes.
 * The table also gives each round's CPU seconds per GB (user + system of the whole process,
 * which holds both ends), a steadier figure than MB/s on a busy machine. The last line is
 * `tcp_throughput RUNTIME VERSION: unisock N MB/s, native N MB/s, ratio R` (medians).
 *
 * - unisock: `Listener.accept()`, the server `read(buffer)`s into a reused 64 KiB buffer
 *   until null; the client `await conn.write(chunk)` then `closeWrite()`.
 * - native, Node: `node:net`, the client writes until `write()` returns false and waits for
 *   'drain'; the server counts bytes in 'data'.
 * - native, Deno: `Deno.listen`/`Deno.connect`, a `conn.write` loop that handles partial
 *   writes; the server `conn.read`s into a reused 64 KiB buffer.
 * - native, Bun: `Bun.listen`/`Bun.connect`, `socket.write` returns the bytes taken, the
 *   rest goes on 'drain'; the server counts bytes in 'data'.
 *
 * @module
 */
import net from "node:net";
import process from "node:process";
import { setTimeout as timerFor } from "node:timers";
import { tcp } from "../mod.ts";
import type { BunApi, BunSocket } from "../bun/bun_api.ts";
import type { DenoApi, DenoTcpConn } from "../deno/deno_api.ts";

const BENCH = "tcp_throughput";
const HOST = "127.0.0.1";
const CHUNK = 64 * 1024;
const MIB = 1024 * 1024;

type Runtime = "node" | "deno" | "bun";
type Side = "unisock" | "native";

const globals = globalThis as unknown as {
  Deno?: DenoApi & { version: { deno: string } };
  Bun?: BunApi & { version: string };
};

const runtime: Runtime = globals.Deno !== undefined ? "deno" : globals.Bun !== undefined ? "bun" : "node";
const runtimeVersion = globals.Deno?.version.deno ?? globals.Bun?.version ?? process.versions.node;

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

interface Options {
  mib: number;
  rounds: number;
  timeoutMs: number;
  json: boolean;
  only: Side | undefined;
}

function usage(message?: string): never {
  if (message !== undefined) console.error(`${BENCH}: ${message}`);
  console.error(`usage: ${BENCH}.ts [--mib N] [--rounds N] [--timeout SECONDS] [--json] [--only unisock|native]`);
  process.exit(message === undefined ? 0 : 2);
}

function positive(name: string, text: string | undefined, integer: boolean): number {
  const value = Number(text);
  if (text === undefined || text === "" || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    usage(`${name} must be a positive ${integer ? "integer" : "number"}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function parseSide(text: string | undefined): Side {
  if (text !== "unisock" && text !== "native") usage(`--only takes unisock or native, got ${JSON.stringify(text)}`);
  return text;
}

function parseOptions(args: string[]): Options {
  const env = process.env;
  const options: Options = {
    mib: positive("BENCH_MIB", env.BENCH_MIB ?? "1024", false),
    rounds: positive("BENCH_ROUNDS", env.BENCH_ROUNDS ?? "3", true),
    timeoutMs: positive("BENCH_TIMEOUT_S", env.BENCH_TIMEOUT_S ?? "60", false) * 1000,
    json: env.BENCH_JSON === "1" || env.BENCH_JSON === "true",
    only: undefined,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? arg.split("=", 2) : [arg, undefined];
    const value = (): string | undefined => inline ?? args[++i];
    if (flag === "--mib") options.mib = positive("--mib", value(), false);
    else if (flag === "--rounds") options.rounds = positive("--rounds", value(), true);
    else if (flag === "--timeout") options.timeoutMs = positive("--timeout", value(), false) * 1000;
    else if (flag === "--json") options.json = true;
    else if (flag === "--only") options.only = parseSide(value());
    else if (flag === "--help" || flag === "-h") usage();
    else usage(`unknown argument ${JSON.stringify(arg)}`);
  }
  return options;
}

// ---------------------------------------------------------------------------
// One round of each side. Each returns its wall-clock and CPU time, and registers
// what must be closed afterwards (or on timeout) with `defer`.
// ---------------------------------------------------------------------------

type Defer = (cleanup: () => void) => void;
type RoundFn = (total: number, defer: Defer) => Promise<Sample>;

/** Wall-clock and CPU (user + system, whole process: both ends and the kernel's work for them) time. */
interface Sample {
  wallMs: number;
  cpuMs: number;
}

function clock(): Sample {
  const cpu = process.cpuUsage();
  return { wallMs: performance.now(), cpuMs: (cpu.user + cpu.system) / 1000 };
}

function since(start: Sample): Sample {
  const now = clock();
  return { wallMs: now.wallMs - start.wallMs, cpuMs: now.cpuMs - start.cpuMs };
}

/** The bytes sent, never modified, so every write may reuse it. */
const CHUNK_BYTES = new Uint8Array(CHUNK).map((_, i) => i & 0xff);

function checkReceived(side: string, received: number, total: number): void {
  if (received !== total) throw new Error(`${side}: received ${received} bytes, sent ${total}`);
}

const unisockRound: RoundFn = async (total, defer) => {
  const listener = await tcp.listen({ hostname: HOST, port: 0 });
  defer(() => listener.close());
  const accepted = listener.accept();
  const client = await tcp.connect({ hostname: HOST, port: listener.localAddress.port });
  defer(() => client.close());
  const server = await accepted;
  defer(() => server.close());

  const start = clock();
  const receiving = (async () => {
    const buffer = new Uint8Array(CHUNK);
    let received = 0;
    let count: number | null;
    while ((count = await server.read(buffer)) !== null) received += count;
    return received;
  })();
  const sending = (async () => {
    let remaining = total;
    for (; remaining >= CHUNK; remaining -= CHUNK) await client.write(CHUNK_BYTES);
    if (remaining > 0) await client.write(CHUNK_BYTES.subarray(0, remaining));
    await client.closeWrite();
  })();
  const [received] = await Promise.all([receiving, sending]);
  const elapsed = since(start);
  checkReceived("unisock", received, total);
  return elapsed;
};

const nodeRound: RoundFn = async (total, defer) => {
  let serverSocket!: net.Socket;
  let onAccept!: () => void;
  const acceptedPromise = new Promise<void>((resolve) => (onAccept = resolve));
  const server = net.createServer((socket) => {
    serverSocket = socket;
    defer(() => socket.destroy());
    onAccept();
  });
  defer(() => server.close());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: HOST, port: 0 }, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect({ host: HOST, port });
  defer(() => client.destroy());
  await new Promise<void>((resolve, reject) => {
    client.once("connect", resolve);
    client.once("error", reject);
  });
  await acceptedPromise;

  const start = clock();
  const receiving = new Promise<number>((resolve, reject) => {
    let received = 0;
    serverSocket.on("data", (chunk: Buffer) => (received += chunk.length));
    serverSocket.on("end", () => resolve(received));
    serverSocket.on("error", reject);
  });
  const sending = new Promise<void>((resolve, reject) => {
    client.on("error", reject);
    let remaining = total;
    const pump = (): void => {
      while (remaining > 0) {
        const size = Math.min(remaining, CHUNK);
        remaining -= size;
        const more = client.write(size === CHUNK ? CHUNK_BYTES : CHUNK_BYTES.subarray(0, size));
        if (!more) {
          client.once("drain", pump);
          return;
        }
      }
      client.end(() => resolve());
    };
    pump();
  });
  const [received] = await Promise.all([receiving, sending]);
  const elapsed = since(start);
  checkReceived("node:net", received, total);
  return elapsed;
};

const denoRound: RoundFn = async (total, defer) => {
  const deno = globals.Deno!;
  const listener = deno.listen({ hostname: HOST, port: 0, transport: "tcp" });
  defer(() => listener.close());
  const accepted = listener.accept();
  const client = await deno.connect({ hostname: HOST, port: listener.addr.port, transport: "tcp" });
  defer(() => closeQuietly(client));
  const server = await accepted;
  defer(() => closeQuietly(server));

  const start = clock();
  const receiving = (async () => {
    const buffer = new Uint8Array(CHUNK);
    let received = 0;
    let count: number | null;
    while ((count = await server.read(buffer)) !== null) received += count;
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
  })();
  const [received] = await Promise.all([receiving, sending]);
  const elapsed = since(start);
  checkReceived("Deno.connect", received, total);
  return elapsed;
};

function closeQuietly(conn: DenoTcpConn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

interface BunClientState {
  pump(): void;
}

const bunRound: RoundFn = async (total, defer) => {
  const bun = globals.Bun!;
  let received = 0;
  let onAccept!: () => void;
  const acceptedPromise = new Promise<void>((resolve) => (onAccept = resolve));
  let onEnd!: (received: number) => void;
  let onServerError!: (error: Error) => void;
  const receiving = new Promise<number>((resolve, reject) => {
    onEnd = resolve;
    onServerError = reject;
  });
  const listener = bun.listen<undefined>({
    hostname: HOST,
    port: 0,
    socket: {
      open: (socket) => {
        defer(() => socket.terminate());
        onAccept();
      },
      data: (_socket, data) => void (received += data.length),
      end: () => onEnd(received),
      close: () => onEnd(received),
      error: (_socket, error) => onServerError(error),
    },
  });
  defer(() => listener.stop(true));

  let onClientError!: (error: Error) => void;
  const client: BunSocket<BunClientState> = await bun.connect<BunClientState>({
    hostname: HOST,
    port: listener.port,
    socket: {
      drain: (socket) => socket.data?.pump(),
      error: (_socket, error) => onClientError(error),
      close: (_socket, error) => onClientError(error ?? new Error("Bun.connect: the socket closed early")),
    },
  });
  defer(() => client.terminate());
  await acceptedPromise;

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

const nativeRound: RoundFn = runtime === "deno" ? denoRound : runtime === "bun" ? bunRound : nodeRound;
const NATIVE_API = runtime === "deno" ? "Deno.connect/Deno.listen" : runtime === "bun" ? "Bun.connect/Bun.listen" : "node:net";

/** One round's figures: MB/s, and CPU seconds spent per GB moved. */
interface Figures {
  mbps: number;
  cpuPerGB: number;
}

/** Runs one round under a deadline. */
async function measure(side: Side, total: number, timeoutMs: number): Promise<Figures> {
  const round = side === "unisock" ? unisockRound : nativeRound;
  const cleanups: (() => void)[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${side} round did not finish within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
  });
  try {
    const sample = await Promise.race([round(total, (cleanup) => cleanups.push(cleanup)), timeout]);
    return { mbps: total / 1e6 / (sample.wallMs / 1000), cpuPerGB: sample.cpuMs / 1000 / (total / 1e9) };
  } finally {
    clearTimeout(timer);
    for (const cleanup of cleanups.reverse()) {
      try {
        cleanup();
      } catch {
        // best effort
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const round1 = (value: number): number => Math.round(value * 10) / 10;
const round3 = (value: number): number => Math.round(value * 1000) / 1000;
const pad = (text: string, width: number): string => text.padStart(width);

function row(label: string, order: string, unisock: Figures | undefined, native: Figures | undefined, note = ""): string {
  const mbps = (figures: Figures | undefined) => pad(figures?.mbps.toFixed(1) ?? "-", 13);
  const cpu = (figures: Figures | undefined) => pad(figures?.cpuPerGB.toFixed(3) ?? "-", 14);
  return `${label.padEnd(8)}${order.padEnd(16)}${mbps(unisock)}${mbps(native)}${cpu(unisock)}${cpu(native)}${note}`;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const total = Math.round(options.mib * MIB);
  const print = options.json ? (line: string) => console.error(line) : (line: string) => console.log(line);

  print(
    `${BENCH} on ${runtime} ${runtimeVersion}: ${options.mib} MiB per round over ${HOST}, ${CHUNK / 1024} KiB chunks, ` +
      `${options.rounds} rounds of each after a warm-up; native = ${NATIVE_API}`,
  );
  print("MB/s with MB = 10^6 bytes; CPU s/GB = user + system CPU seconds of the whole process per 10^9 bytes");
  print(
    `${"round".padEnd(8)}${"order".padEnd(16)}${pad("unisock MB/s", 13)}${pad("native MB/s", 13)}` +
      `${pad("unisock CPU", 14)}${pad("native CPU", 14)}`,
  );

  const results: Record<Side, Figures[]> = { unisock: [], native: [] };
  for (let round = 0; round <= options.rounds; round++) {
    // Round 0 is the warm-up; the order alternates so neither side always goes first.
    const both: Side[] = round % 2 === 0 ? ["unisock", "native"] : ["native", "unisock"];
    const order = options.only === undefined ? both : [options.only];
    const figures: Partial<Record<Side, Figures>> = {};
    for (const side of order) figures[side] = await measure(side, total, options.timeoutMs);
    if (round > 0) for (const side of order) results[side].push(figures[side]!);
    const label = round === 0 ? "warm-up" : String(round);
    print(row(label, order.join(","), figures.unisock, figures.native, round === 0 ? "  (not counted)" : ""));
  }

  if (options.only !== undefined) {
    const figures = results[options.only];
    const mbps = median(figures.map((f) => f.mbps));
    const only = { mbps, cpuPerGB: median(figures.map((f) => f.cpuPerGB)) };
    print(row("median", "", options.only === "unisock" ? only : undefined, options.only === "native" ? only : undefined));
    const summary = `${BENCH} ${runtime} ${runtimeVersion}: ${options.only} only, ${mbps.toFixed(0)} MB/s`;
    print(summary);
    if (options.json) console.log(JSON.stringify({ bench: BENCH, runtime, version: runtimeVersion, only: options.only, mbps: round1(mbps), summary }));
    return;
  }
  const medians = (side: Side): Figures => ({
    mbps: median(results[side].map((figures) => figures.mbps)),
    cpuPerGB: median(results[side].map((figures) => figures.cpuPerGB)),
  });
  const unisock = medians("unisock");
  const native = medians("native");
  const ratio = unisock.mbps / native.mbps;
  print(row("median", "", unisock, native));
  const summary = `${BENCH} ${runtime} ${runtimeVersion}: unisock ${unisock.mbps.toFixed(0)} MB/s, native ${
    native.mbps.toFixed(0)
  } MB/s, ratio ${ratio.toFixed(2)}`;
  print(summary);
  if (options.json) {
    const side = (name: Side, medianFigures: Figures) => ({
      mbps: round1(medianFigures.mbps),
      cpuSecondsPerGB: round3(medianFigures.cpuPerGB),
      rounds: results[name].map((figures) => ({ mbps: round1(figures.mbps), cpuSecondsPerGB: round3(figures.cpuPerGB) })),
    });
    console.log(JSON.stringify({
      bench: BENCH,
      runtime,
      version: runtimeVersion,
      nativeApi: NATIVE_API,
      units: { mbps: "MB/s, MB = 10^6 bytes, medians", cpuSecondsPerGB: "process CPU seconds per 10^9 bytes, medians" },
      bytesPerRound: total,
      chunkBytes: CHUNK,
      rounds: options.rounds,
      unisock: side("unisock", unisock),
      native: side("native", native),
      ratio: round3(ratio),
      summary,
    }));
  }
}

/**
 * Ends the run. Not with `process.exit()` straight away: Node 24 can hang for good inside it
 * when a background compile job is waiting for a GC (nodejs/node#54918; seen here once).
 * Everything is closed by now, so the event loop drains and the process ends by itself;
 * the unref'd timer only forces the exit if some handle stayed open.
 */
function finish(code: number): void {
  process.exitCode = code;
  timerFor(() => process.exit(code), 3000).unref();
}

main().then(
  () => finish(0),
  (error: unknown) => {
    console.error(`${BENCH} ${runtime} ${runtimeVersion}: FAILED:`, error);
    finish(1);
  },
);
