/**
 * Echo round-trip latency over TCP on 127.0.0.1: unisock against the runtime's own socket
 * API, in one process, on whichever runtime runs it. Goal: unisock p50 at most 1.1 times
 * the native p50 for 64-byte messages.
 *
 *   node bench/echo_rtt.ts [options]
 *   deno run -A bench/echo_rtt.ts [options]
 *   bun bench/echo_rtt.ts [options]
 *
 * Options (each but --only also from the environment):
 *   --count N      counted round trips per round (BENCH_COUNT, default 20000)
 *   --warmup N     round trips before those, not counted; 0 for none (BENCH_WARMUP, default 1000)
 *   --size BYTES   message size (BENCH_SIZE, default 64)
 *   --rounds N     rounds of each side (BENCH_ROUNDS, default 3)
 *   --timeout S    seconds a round may take before the run fails (BENCH_TIMEOUT_S, default 60)
 *   --json         print one JSON line with the figures instead of the table (BENCH_JSON=1);
 *                  the table then goes to stderr
 *   --only SIDE    run only `unisock` or `native` (for profiling one side; no ratio)
 *
 * Every round opens a fresh listener and one connection on 127.0.0.1 (port 0); the
 * accepted side echoes every byte it reads. The client does the round trips one after
 * another: send SIZE bytes, wait until all SIZE came back, only then send again. Each
 * counted trip is timed with `performance.now()` (sub-µs on all three runtimes). A round
 * gives the p50, p90 and p99 of its trips; a side's figure is the median over its rounds.
 * Every round runs both sides, the first of the two alternating. The last line is
 * `echo_rtt RUNTIME VERSION: unisock p50 X µs, native p50 Y µs, ratio Z (goal <= 1.1:
 * met|NOT met)`, ratio = the median over the rounds of unisock p50 / native p50 of the
 * same round (lower is better); the sides alternate which goes first.
 *
 * TCP_NODELAY is on at all four ends. The defaults differ (seen with strace): Node and
 * Deno leave Nagle on, Bun sets TCP_NODELAY on every socket; so both sides set it: unisock
 * by `tcp.connect(..., { noDelay: true })` and `setNoDelay(true)` on the accepted side,
 * native by each API's `setNoDelay(true)` on both ends.
 *
 * - unisock: `tcp.listen`, `accept()`, `tcp.connect`; the server `read(buffer)`s into a
 *   reused 64 KiB buffer and `await write(buffer.subarray(0, n))`s it back; the client
 *   `await conn.write(message)`, then `read`s until SIZE bytes are back.
 * - native, Node: `node:net`; the server does `socket.write(chunk)` in 'data'; the client
 *   `write(message)`s and waits for 'data' events to have counted SIZE bytes.
 * - native, Deno: `Deno.listen`/`Deno.connect`, `conn.read`/`conn.write` loops on both
 *   ends as for unisock (partial writes handled).
 * - native, Bun: `Bun.listen`/`Bun.connect`; the server's `data(socket, chunk)` handler
 *   does `socket.write(chunk)`; the client `write(message)`s and waits for its `data`
 *   handler to have counted SIZE bytes.
 *
 * @module
 */
import { once } from "node:events";
import net from "node:net";
import process from "node:process";
import { tcp } from "../mod.ts";
import type { BunSocketHandler } from "../bun/bun_api.ts";
import { alternatives, globals, makeUsage, median, pad, pairedRatio, positive, round1, round3 } from "./common.ts";
import { runCleanups, runMain, runtime, runtimeVersion, walkArgs } from "./common.ts";
import type { Usage } from "./common.ts";

const BENCH = "echo_rtt";
const HOST = "127.0.0.1";
const GOAL = 1.1;
const SERVER_BUFFER = 64 * 1024;

type Side = "unisock" | "native";
const SIDES: readonly Side[] = ["unisock", "native"];
const NATIVE_API = runtime === "deno" ? "Deno.connect/Deno.listen" : runtime === "bun" ? "Bun.connect/Bun.listen" : "node:net";

interface Options {
  count: number;
  warmup: number;
  size: number;
  rounds: number;
  timeoutMs: number;
  json: boolean;
  only: Side | undefined;
}

function parseOptions(args: string[]): Options {
  const usage: Usage = makeUsage(
    BENCH,
    `[--count N] [--warmup N] [--size BYTES] [--rounds N] [--timeout SECONDS] [--json] [--only ${SIDES.join("|")}]`,
  );
  const env = process.env;
  // The warm-up may be 0, which `positive` refuses.
  const warmup = (name: string, text: string | undefined): number => text === "0" ? 0 : positive(usage, name, text, true);
  const options: Options = {
    count: positive(usage, "BENCH_COUNT", env.BENCH_COUNT ?? "20000", true),
    warmup: warmup("BENCH_WARMUP", env.BENCH_WARMUP ?? "1000"),
    size: positive(usage, "BENCH_SIZE", env.BENCH_SIZE ?? "64", true),
    rounds: positive(usage, "BENCH_ROUNDS", env.BENCH_ROUNDS ?? "3", true),
    timeoutMs: positive(usage, "BENCH_TIMEOUT_S", env.BENCH_TIMEOUT_S ?? "60", false) * 1000,
    json: env.BENCH_JSON === "1" || env.BENCH_JSON === "true",
    only: undefined,
  };
  walkArgs(args, usage, (flag, value) => {
    if (flag === "--count") options.count = positive(usage, "--count", value(), true);
    else if (flag === "--warmup") options.warmup = warmup("--warmup", value());
    else if (flag === "--size") options.size = positive(usage, "--size", value(), true);
    else if (flag === "--rounds") options.rounds = positive(usage, "--rounds", value(), true);
    else if (flag === "--timeout") options.timeoutMs = positive(usage, "--timeout", value(), false) * 1000;
    else if (flag === "--json") options.json = true;
    else if (flag === "--only") {
      const text = value();
      const side = SIDES.find((name) => name === text);
      if (side === undefined) usage(`--only takes ${alternatives(SIDES)}, got ${JSON.stringify(text)}`);
      options.only = side;
    } else return false;
    return true;
  });
  return options;
}

// One connection per side: `trip` does one round trip; `failed` rejects when either end
// fails or the server stops echoing before the round is over.

/** Registers what must be closed after the round (or on timeout). */
type Defer = (cleanup: () => void) => void;

type EchoPair = { trip: () => Promise<void>; failed: Promise<never> };

type Setup = (message: Uint8Array, defer: Defer) => Promise<EchoPair>;

/** A promise to reject on failure, marked as handled so an early failure is not reported twice. */
function failure(): { failed: Promise<never>; fail: (error: Error) => void } {
  let fail!: (error: Error) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => {});
  return { failed, fail };
}

/** A connection with `read(buffer)`: unisock's, and Deno's. */
interface ReadWriteEnd {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
}

/**
 * The echo over two `read(buffer)` ends (unisock, Deno): the server reads into a reused
 * buffer and awaits writing it back; a trip awaits writing the message, then reads until
 * the whole echo is back. `write` writes all of its bytes.
 */
function readWriteEcho(
  server: ReadWriteEnd,
  client: ReadWriteEnd,
  message: Uint8Array,
  write: (end: ReadWriteEnd, bytes: Uint8Array) => Promise<unknown>,
  label: string,
): EchoPair {
  const { failed, fail } = failure();
  (async () => {
    const buffer = new Uint8Array(SERVER_BUFFER);
    let count: number | null;
    while ((count = await server.read(buffer)) !== null) await write(server, buffer.subarray(0, count));
    throw new Error(`${label}: the server side reached end of stream during the round`);
  })().catch(fail);
  const reply = new Uint8Array(message.length);
  const trip = async (): Promise<void> => {
    await write(client, message);
    let got = 0;
    while (got < reply.length) {
      const count = await client.read(got === 0 ? reply : reply.subarray(got));
      if (count === null) throw new Error(`${label}: the server closed the connection`);
      got += count;
    }
  };
  return { trip, failed };
}

const unisockSetup: Setup = async (message, defer) => {
  const listener = await tcp.listen({ hostname: HOST, port: 0 });
  defer(() => listener.close());
  const accepted = listener.accept();
  const client = await tcp.connect({ hostname: HOST, port: listener.localAddress.port }, { noDelay: true });
  defer(() => client.close());
  const server = await accepted;
  defer(() => server.close());
  server.setNoDelay(true);
  return readWriteEcho(server, client, message, (end, bytes) => end.write(bytes), "unisock");
};

/**
 * Counts the echoed bytes a callback API (Node, Bun) pushes: `wait(send)` starts a trip
 * and resolves once the whole echo is back; `add(count)` is called from the data callback.
 */
function echoWaiter(
  size: number,
  fail: (error: Error) => void,
): { wait(send: () => void): Promise<void>; add(count: number): void } {
  let got = 0;
  let wake: (() => void) | undefined;
  return {
    wait: (send) =>
      new Promise((resolve) => {
        got = 0;
        wake = resolve;
        send();
      }),
    add: (count) => {
      got += count;
      if (got < size) return;
      const woken = wake;
      wake = undefined;
      if (got > size || woken === undefined) fail(new Error(`received ${got} bytes, sent ${size}`));
      else woken();
    },
  };
}

const nodeSetup: Setup = async (message, defer) => {
  const { failed, fail } = failure();
  const server = net.createServer((socket) => {
    defer(() => socket.destroy());
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => socket.write(chunk));
    socket.on("error", fail);
  });
  defer(() => server.close());
  server.listen({ host: HOST, port: 0 });
  await once(server, "listening");
  const client = net.connect({ host: HOST, port: (server.address() as net.AddressInfo).port, noDelay: true });
  defer(() => client.destroy());
  await once(client, "connect");
  const waiter = echoWaiter(message.length, fail);
  client.on("data", (chunk: Buffer) => waiter.add(chunk.length));
  client.on("error", fail);
  client.on("close", () => fail(new Error("node:net: the connection closed during the round")));
  const send = (): void => void client.write(message);
  return { trip: () => waiter.wait(send), failed };
};

const denoSetup: Setup = async (message, defer) => {
  const deno = globals.Deno!;
  const listener = deno.listen({ hostname: HOST, port: 0, transport: "tcp" });
  defer(() => listener.close());
  const accepted = listener.accept();
  const client = await deno.connect({ hostname: HOST, port: listener.addr.port, transport: "tcp" });
  defer(() => client.close());
  const server = await accepted;
  defer(() => server.close());
  client.setNoDelay(true);
  server.setNoDelay(true);
  const writeAll = async (end: ReadWriteEnd, bytes: Uint8Array): Promise<void> => {
    let offset = await end.write(bytes);
    while (offset < bytes.length) offset += await end.write(bytes.subarray(offset));
  };
  return readWriteEcho(server, client, message, writeAll, "Deno.connect");
};

const bunSetup: Setup = async (message, defer) => {
  const bun = globals.Bun!;
  const { failed, fail } = failure();
  const serverHandler: BunSocketHandler<undefined> = {
    open: (socket) => {
      defer(() => socket.terminate());
      socket.setNoDelay(true);
    },
    data: (socket, chunk) => {
      const written = socket.write(chunk);
      if (written !== chunk.length) fail(new Error(`Bun.listen: the server wrote ${written} of ${chunk.length} bytes`));
    },
    error: (_socket, error) => fail(error),
  };
  const listener = bun.listen<undefined>({ hostname: HOST, port: 0, socket: serverHandler });
  defer(() => listener.stop(true));
  const waiter = echoWaiter(message.length, fail);
  const clientHandler: BunSocketHandler<undefined> = {
    data: (_socket, chunk) => waiter.add(chunk.length),
    error: (_socket, error) => fail(error),
    close: (_socket, error) => fail(error ?? new Error("Bun.connect: the connection closed during the round")),
  };
  const client = await bun.connect<undefined>({ hostname: HOST, port: listener.port, socket: clientHandler });
  defer(() => client.terminate());
  client.setNoDelay(true);
  const send = (): void => {
    const written = client.write(message);
    if (written !== message.length) fail(new Error(`Bun.connect: wrote ${written} of ${message.length} bytes`));
  };
  return { trip: () => waiter.wait(send), failed };
};

const SETUPS: Record<Side, Setup> = {
  unisock: unisockSetup,
  native: runtime === "deno" ? denoSetup : runtime === "bun" ? bunSetup : nodeSetup,
};

// Rounds and report.

/** Round-trip times in µs. */
type Figures = { p50: number; p90: number; p99: number };

/** Nearest-rank percentiles of round-trip times in µs. */
function percentiles(samples: Float64Array): Figures {
  const sorted = samples.slice().sort();
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99) };
}

async function trips(pair: EchoPair, options: Options): Promise<Float64Array> {
  const { trip } = pair;
  for (let i = 0; i < options.warmup; i++) await trip();
  const samples = new Float64Array(options.count);
  for (let i = 0; i < options.count; i++) {
    const start = performance.now();
    await trip();
    samples[i] = (performance.now() - start) * 1000;
  }
  return samples;
}

/** Runs one round of `side` under a deadline, then closes everything it opened. */
async function measure(side: Side, options: Options): Promise<Figures> {
  const cleanups: (() => void)[] = [];
  const message = new Uint8Array(options.size).map((_, i) => i & 0xff);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${side} round did not finish within ${options.timeoutMs / 1000} s`)),
      options.timeoutMs,
    );
  });
  try {
    const work = (async () => {
      const pair = await SETUPS[side](message, (cleanup) => cleanups.push(cleanup));
      return await Promise.race([trips(pair, options), pair.failed]);
    })();
    return percentiles(await Promise.race([work, timeout]));
  } finally {
    clearTimeout(timer);
    runCleanups(cleanups);
  }
}

function row(label: string, side: string, figures: Figures): string {
  const us = (value: number): string => pad(value.toFixed(1), 10);
  return `${label.padEnd(8)}${side.padEnd(10)}${us(figures.p50)}${us(figures.p90)}${us(figures.p99)}`;
}

const medianFigures = (rounds: Figures[]): Figures => ({
  p50: median(rounds.map((figures) => figures.p50)),
  p90: median(rounds.map((figures) => figures.p90)),
  p99: median(rounds.map((figures) => figures.p99)),
});

const jsonFigures = (figures: Figures) => ({
  p50Us: round1(figures.p50),
  p90Us: round1(figures.p90),
  p99Us: round1(figures.p99),
});

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const print = options.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  const order: readonly Side[] = options.only === undefined ? SIDES : [options.only];

  print(
    `${BENCH} on ${runtime} ${runtimeVersion}: ${options.size}-byte echo round trips over TCP ${HOST}, ` +
      `${options.count} per round after ${options.warmup} not counted, ${options.rounds} rounds of ` +
      `${order.join(" and ")}; native = ${NATIVE_API}; TCP_NODELAY on at all ends`,
  );
  print("round-trip time in µs (performance.now()); median = median over the rounds of each percentile");
  print(`${"round".padEnd(8)}${"side".padEnd(10)}${pad("p50", 10)}${pad("p90", 10)}${pad("p99", 10)}`);

  const results: Record<Side, Figures[]> = { unisock: [], native: [] };
  for (let round = 1; round <= options.rounds; round++) {
    // The first side alternates, so neither always goes first.
    for (const side of round % 2 === 1 ? order : [...order].reverse()) {
      const figures = await measure(side, options);
      results[side].push(figures);
      print(row(String(round), side, figures));
    }
  }
  const medians: Partial<Record<Side, Figures>> = {};
  for (const side of order) {
    medians[side] = medianFigures(results[side]);
    print(row("median", side, medians[side]));
  }
  const sideJson = (side: Side, figures: Figures) => ({ ...jsonFigures(figures), rounds: results[side].map(jsonFigures) });
  const { size, count, warmup, rounds } = options;
  const units = { p50Us: "µs per round trip", p90Us: "µs per round trip", p99Us: "µs per round trip" };
  const common = { bench: BENCH, runtime, version: runtimeVersion, nativeApi: NATIVE_API, units, size, count, warmup, rounds };
  const noDelay = true;

  if (options.only !== undefined) {
    const figures = medians[options.only]!;
    const summary = `${BENCH} ${runtime} ${runtimeVersion}: ${options.only} only, p50 ${figures.p50.toFixed(1)} µs`;
    print(summary);
    const only = options.only;
    if (options.json) console.log(JSON.stringify({ ...common, noDelay, only, [only]: sideJson(only, figures), summary }));
    return;
  }
  const unisock = medians.unisock!;
  const native = medians.native!;
  // Round by round (both sides of a round ran back to back), the median over the rounds.
  const ratio = round3(pairedRatio(results.unisock.map((f) => f.p50), results.native.map((f) => f.p50)));
  const summary = `${BENCH} ${runtime} ${runtimeVersion}: unisock p50 ${unisock.p50.toFixed(1)} µs, native p50 ${
    native.p50.toFixed(1)
  } µs, ratio ${ratio.toFixed(3)} (goal <= ${GOAL}: ${ratio <= GOAL ? "met" : "NOT met"})`;
  print(summary);
  if (options.json) {
    const [unisockJson, nativeJson] = [sideJson("unisock", unisock), sideJson("native", native)];
    console.log(JSON.stringify({ ...common, noDelay, unisock: unisockJson, native: nativeJson, ratio, goal: GOAL, summary }));
  }
}

runMain(BENCH, main);
