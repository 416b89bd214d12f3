/**
 * Soak: connect/echo/close churn over 127.0.0.1, memory and file descriptors sampled every
 * second, to show whether anything grows. unisock only, in one process. Not a test.
 *
 *   node bench/soak.ts [options]
 *   deno run -A bench/soak.ts [options]
 *   bun bench/soak.ts [options]
 *
 * Options (each also from the environment):
 *   --seconds N      how long the churn runs (BENCH_SECONDS, default 60)
 *   --concurrency N  client workers, one connection at a time each (BENCH_CONCURRENCY, default 32)
 *   --size BYTES     mean message size; each is 75–125% of it (BENCH_SIZE, default 1024)
 *   --abort-every N  every Nth connection of a worker is closed before its reply is read;
 *                    0 for none (BENCH_ABORT_EVERY, default 16)
 *   --seed N         seed of the message sizes and contents (BENCH_SEED, default 1)
 *   --json           print one JSON line with the figures at the end (BENCH_JSON=1); the
 *                    per-second lines then go to stderr
 *
 * A unisock listener echoes each connection (read to end of stream, write back,
 * `closeWrite()`, close). Each worker loops: `tcp.connect`, write a seeded message,
 * `closeWrite()`, read the echo to end of stream, compare it byte for byte, close. An aborted
 * connection writes its message, then closes at once (odd aborts) or after one read (even
 * ones); `connection-reset` or `-aborted` on the server is then counted; any other failure
 * is an error.
 *
 * Every second: rss, heapUsed, heapTotal and external (`process.memoryUsage()`), open
 * descriptors (`/proc/self/fd`) and connections so far. Growth compares the median of the
 * last 6 samples of the warm-up (15 s, or a quarter of a shorter run) with the median of the
 * last 5, and fits a line to heapUsed from 5 s after the warm-up on (KiB/s). A full GC is
 * forced where the runtime offers one (Node and Deno: V8's `gc()`, from `--expose-gc` or
 * exposed with `v8.setFlagsFromString`; Bun: `Bun.gc(true)`) at the end of the warm-up and
 * again once the churn is over and everything is closed: the heap after GC at the end
 * against the heap after GC at the warm-up is what was retained, not garbage not yet
 * collected. Descriptors must be back to their count before the listener opened (waiting
 * up to 2 s), but for at most 4, none a TCP socket, that the runtime opened for itself
 * (Deno's Unix socket pair, libuv's reserve `/dev/null`), listed. The churn stops after
 * `--seconds`; connections then have 10 s to finish. Errors, a stuck connection or a
 * descriptor left open fail the run. The last line is `soak RUNTIME VERSION: N connections
 * in S s (X/s), errors E, rss A→B MiB (+G%), heap A→B MiB (+G%), heap slope K KiB/s,
 * fds back: yes|no`.
 *
 * @module
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import process from "node:process";
import v8 from "node:v8";
import vm from "node:vm";
import { SocketError, tcp } from "../mod.ts";
import type { Connection } from "../mod.ts";
import { makeUsage, median, positive, round1, round3, runMain, runtime, runtimeVersion, walkArgs } from "./common.ts";
import type { Usage } from "./common.ts";

const BENCH = "soak";
const HOST = "127.0.0.1";
const MIB = 1024 * 1024;
const DRAIN_MS = 10_000;
const FD_SETTLE_MS = 2_000;
/** New descriptors, none a TCP socket, a runtime may open for itself during a run (Node 1, Deno 2). */
const MAX_RUNTIME_FDS = 4;
/** Samples the end is the median of; the start is the median of the warm-up's last ones. */
const LAST_SAMPLES = 5;
/** Warm-up: a quarter of the run, at most 15 s (Node's heap is still sizing itself up at 10 s). */
const MAX_WARMUP_S = 15;
/** Seconds after the warm-up GC left out of the slope: the heap regrows from the forced GC. */
const MAX_SETTLE_S = 5;
/** What the server may see on an aborted connection: the client closed with the reply unread. */
const EXPECTED_SERVER_CODES: readonly string[] = ["connection-reset", "connection-aborted"];

interface Options {
  seconds: number;
  concurrency: number;
  size: number;
  abortEvery: number;
  seed: number;
  json: boolean;
}

function parseOptions(args: string[]): Options {
  const usage: Usage = makeUsage(
    BENCH,
    "[--seconds N] [--concurrency N] [--size BYTES] [--abort-every N] [--seed N] [--json]",
  );
  const env = process.env;
  const count = (name: string, text: string | undefined): number => text === "0" ? 0 : positive(usage, name, text, true);
  const options: Options = {
    seconds: positive(usage, "BENCH_SECONDS", env.BENCH_SECONDS ?? "60", false),
    concurrency: positive(usage, "BENCH_CONCURRENCY", env.BENCH_CONCURRENCY ?? "32", true),
    size: positive(usage, "BENCH_SIZE", env.BENCH_SIZE ?? "1024", true),
    abortEvery: count("BENCH_ABORT_EVERY", env.BENCH_ABORT_EVERY ?? "16"),
    seed: positive(usage, "BENCH_SEED", env.BENCH_SEED ?? "1", true),
    json: env.BENCH_JSON === "1" || env.BENCH_JSON === "true",
  };
  walkArgs(args, usage, (flag, value) => {
    if (flag === "--seconds") options.seconds = positive(usage, "--seconds", value(), false);
    else if (flag === "--concurrency") options.concurrency = positive(usage, "--concurrency", value(), true);
    else if (flag === "--size") options.size = positive(usage, "--size", value(), true);
    else if (flag === "--abort-every") options.abortEvery = count("--abort-every", value());
    else if (flag === "--seed") options.seed = positive(usage, "--seed", value(), true);
    else if (flag === "--json") options.json = true;
    else return false;
    return true;
  });
  return options;
}

const openFds = (): number => readdirSync("/proc/self/fd").length;

/** Open descriptors: number → what it points at (`socket:[INODE]`, a path, ...). */
function descriptors(): Map<string, string> {
  const open = new Map<string, string>();
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      open.set(fd, readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // the listing's own descriptor, closed by now
    }
  }
  return open;
}

/**
 * Descriptors open now and not in `before`: the runtime's own (Unix sockets, non-sockets)
 * and other sockets, which would be TCP sockets the churn left open.
 */
function newDescriptors(before: Map<string, string>): { own: string[]; sockets: string[] } {
  const unixTable = readFileSync("/proc/self/net/unix", "utf8").split("\n").slice(1);
  const unixInodes = new Set(unixTable.map((line) => line.trim().split(/\s+/)[6]));
  const own: string[] = [];
  const sockets: string[] = [];
  for (const [fd, target] of descriptors()) {
    if (before.get(fd) === target) continue;
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode !== undefined && !unixInodes.has(inode)) sockets.push(`${fd}→${target}`);
    else own.push(`${fd}→${inode === undefined ? "" : "unix "}${target}`);
  }
  return { own, sockets };
}

type MemorySample = ReturnType<typeof sample>;

/** Memory (null in JSON where a runtime has neither the field nor the fallback), descriptors. */
function sample(t: number, connections: number) {
  const usage: Partial<NodeJS.MemoryUsage> = process.memoryUsage();
  const heap = (): v8.HeapInfo | undefined => v8.getHeapStatistics?.();
  const mib = (bytes: number | undefined): number => round3((bytes ?? NaN) / MIB);
  return {
    t: round1(t),
    rssMiB: mib(usage.rss ?? process.memoryUsage.rss?.()),
    heapUsedMiB: mib(usage.heapUsed ?? heap()?.used_heap_size),
    heapTotalMiB: mib(usage.heapTotal ?? heap()?.total_heap_size),
    externalMiB: mib(usage.external ?? heap()?.external_memory),
    fds: openFds(),
    connections,
  };
}

/** A full, synchronous GC where the runtime offers one, and how it is had. */
function findGc(): { method: string; run: () => void } | undefined {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun !== undefined) return { method: "Bun.gc(true)", run: () => bun.gc(true) };
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === "function") return { method: "gc() of --expose-gc", run: () => void exposed() };
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc: unknown = vm.runInNewContext("gc");
    if (typeof gc === "function") return { method: 'gc() via v8.setFlagsFromString("--expose-gc")', run: () => void gc() };
  } catch {
    // no way to force one
  }
  return undefined;
}

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  const mean = (values: number[]): number => values.reduce((sum, value) => sum + value, 0) / values.length;
  const mx = mean(points.map((p) => p.x));
  const my = mean(points.map((p) => p.y));
  const den = points.reduce((sum, p) => sum + (p.x - mx) ** 2, 0);
  return den === 0 ? NaN : points.reduce((sum, p) => sum + (p.x - mx) * (p.y - my), 0) / den;
}

const percent = (from: number, to: number): number => round1(((to - from) / from) * 100);
const signed = (value: number | null): string => (value === null ? "-" : value >= 0 ? `+${value}` : String(value));
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `promise` settled within `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** xorshift32, as a number in [0, 1). */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** What the churn counts; the first few unexpected errors are kept. */
class Tally {
  echoed = 0;
  aborted = 0;
  serverResets = 0;
  errors = 0;
  readonly firstErrors: string[] = [];
  readonly open = new Set<Connection>();
  get connections(): number {
    return this.echoed + this.aborted;
  }
  fail(side: string, error: unknown): void {
    this.errors++;
    const text = error instanceof SocketError ? `${error.code}: ${error.message}` : String(error);
    if (this.firstErrors.length < 5) this.firstErrors.push(`${side}: ${text}`);
  }
}

/** Buffers of finished sessions, reused: the bench should make as little garbage as it can. */
const serverBuffers: Uint8Array[] = [];

/** Echoes one accepted connection: read to end of stream, write back, half-close, close. */
async function serve(conn: Connection, tally: Tally): Promise<void> {
  tally.open.add(conn);
  const buffer = serverBuffers.pop() ?? new Uint8Array(16 * 1024);
  try {
    let count: number | null;
    while ((count = await conn.read(buffer)) !== null) await conn.write(buffer.subarray(0, count));
    await conn.closeWrite();
  } catch (error) {
    if (error instanceof SocketError && EXPECTED_SERVER_CODES.includes(error.code)) tally.serverResets++;
    else tally.fail("server", error);
  } finally {
    conn.close();
    tally.open.delete(conn);
    serverBuffers.push(buffer);
  }
}

/** What every worker shares. */
interface Run {
  port: number;
  options: Options;
  stopAt: number;
  pattern: Uint8Array;
  tally: Tally;
}

/** One client worker: one connection after another until `stopAt`. */
async function worker(index: number, { port, options, stopAt, pattern, tally }: Run): Promise<void> {
  const random = prng(options.seed * 7919 + index);
  const buffer = new Uint8Array(Math.ceil(options.size * 1.25) + 1);
  for (let n = 1; performance.now() < stopAt; n++) {
    const length = Math.max(1, Math.round(options.size * (0.75 + 0.5 * random())));
    const offset = Math.floor(random() * (pattern.length - length));
    const message = pattern.subarray(offset, offset + length);
    let conn: Connection | undefined;
    try {
      conn = await tcp.connect({ hostname: HOST, port });
      tally.open.add(conn);
      if (options.abortEvery > 0 && n % options.abortEvery === 0) {
        await conn.write(message);
        if ((n / options.abortEvery) % 2 === 0) await conn.read(buffer);
        tally.aborted++;
        continue; // closed below, the reply (or the rest of it) unread
      }
      const client = conn;
      const sending = client.write(message).then(() => client.closeWrite());
      let received = 0;
      let count: number | null;
      while ((count = await client.read(buffer.subarray(received))) !== null) {
        received += count;
        if (received > length) throw new Error(`echo longer than the ${length} bytes sent`);
      }
      await sending;
      if (received !== length) throw new Error(`echo of ${received} bytes, ${length} sent`);
      const differs = buffer.subarray(0, length).findIndex((byte, i) => byte !== message[i]);
      if (differs !== -1) throw new Error(`echo differs at byte ${differs} of ${length}`);
      tally.echoed++;
    } catch (error) {
      tally.fail("client", error);
    } finally {
      if (conn !== undefined) {
        conn.close();
        tally.open.delete(conn);
      }
    }
  }
}

/** Runs the churn with the listener, sampling every second; closes everything it opened. */
async function churn(options: Options, warmupS: number, gc: ReturnType<typeof findGc>, print: (line: string) => void) {
  const tally = new Tally();
  const samples: MemorySample[] = [];
  let gcWarmup: MemorySample | undefined;
  const sessions = new Set<Promise<void>>();
  const listener = await tcp.listen({ hostname: HOST, port: 0 });
  let ticker: ReturnType<typeof setInterval> | undefined;
  try {
    const serving = (async () => {
      for await (const conn of listener) {
        const session: Promise<void> = serve(conn, tally).finally(() => sessions.delete(session));
        sessions.add(session);
      }
    })().catch((error: unknown) => tally.fail("accept", error));

    let onTimeUp!: () => void;
    const timeUp = new Promise<void>((resolve) => (onTimeUp = resolve));
    const start = performance.now();
    const elapsed = (): number => (performance.now() - start) / 1000;
    samples.push(sample(0, 0));
    ticker = setInterval(() => {
      const now = sample(elapsed(), tally.connections);
      const added = now.connections - samples[samples.length - 1].connections;
      samples.push(now);
      print(
        `t=${now.t.toFixed(0).padStart(4)} s  rss ${now.rssMiB.toFixed(1).padStart(7)} MiB  ` +
          `heap ${now.heapUsedMiB.toFixed(1).padStart(6)}/${now.heapTotalMiB.toFixed(1).padEnd(6)} MiB  ` +
          `external ${now.externalMiB.toFixed(1).padStart(6)} MiB  fds ${String(now.fds).padStart(4)}  ` +
          `connections ${String(now.connections).padStart(8)} (+${added})`,
      );
      if (samples.length - 1 === warmupS && gc !== undefined) {
        gc.run();
        gcWarmup = sample(elapsed(), tally.connections);
        print(`after the warm-up GC: rss ${gcWarmup.rssMiB.toFixed(1)} MiB, heap ${gcWarmup.heapUsedMiB.toFixed(1)} MiB`);
      }
      if (samples.length - 1 >= Math.ceil(options.seconds)) {
        clearInterval(ticker);
        onTimeUp();
      }
    }, 1000);

    const stopAt = start + options.seconds * 1000;
    const port = listener.localAddress.port;
    const pattern = new Uint8Array(Math.ceil(options.size * 1.25) * 2 + 1);
    const fill = prng(options.seed);
    for (let i = 0; i < pattern.length; i++) pattern[i] = (fill() * 256) | 0;
    const workers = Array.from({ length: options.concurrency }, (_, i) => worker(i, { port, options, stopAt, pattern, tally }));
    await timeUp; // the last sample is taken; the workers start no connection after stopAt
    if (!(await within(Promise.all(workers), DRAIN_MS))) {
      throw new Error(`${tally.open.size} connections still open ${DRAIN_MS / 1000} s after the churn stopped`);
    }
    const seconds = elapsed();
    listener.close();
    if (!(await within(Promise.all([serving, ...sessions]), DRAIN_MS))) {
      throw new Error(`${sessions.size} server sessions still open ${DRAIN_MS / 1000} s after the churn stopped`);
    }
    return { tally, samples, gcWarmup, seconds };
  } finally {
    clearInterval(ticker);
    listener.close();
    for (const conn of tally.open) conn.close();
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const print = options.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  const warmupS = Math.max(1, Math.min(MAX_WARMUP_S, Math.floor(options.seconds / 4)));
  const settleS = Math.min(MAX_SETTLE_S, Math.floor((options.seconds - warmupS) / 4));
  const gc = findGc();
  print(
    `${BENCH} on ${runtime} ${runtimeVersion}: ${options.seconds} s of connect/echo/close over ${HOST}, ` +
      `${options.concurrency} workers, ~${options.size} B messages, abort every ${options.abortEvery || "-"}th; ` +
      `warm-up ${warmupS} s; forced GC: ${gc?.method ?? "none available"}`,
  );

  const fdsBefore = openFds();
  const descriptorsBefore = descriptors();
  const { tally, samples, gcWarmup, seconds } = await churn(options, warmupS, gc, print);

  // Closing is asynchronous on some runtimes: wait (bounded) for the descriptors to go.
  let fdsAfter = openFds();
  let fresh = newDescriptors(descriptorsBefore);
  const settled = (): boolean =>
    fdsAfter <= fdsBefore || (fresh.sockets.length === 0 && fresh.own.length <= MAX_RUNTIME_FDS);
  for (const until = performance.now() + FD_SETTLE_MS; !settled() && performance.now() < until;) {
    await delay(20);
    fdsAfter = openFds();
    fresh = newDescriptors(descriptorsBefore);
  }
  const fdsBack = settled();
  gc?.run();
  await delay(100); // let finalizers and the runtime's own clean-up run, then collect again
  gc?.run();
  const gcEnd = sample(seconds, tally.connections);

  const during = samples.slice(1);
  const warm = during.slice(Math.max(0, warmupS - LAST_SAMPLES - 1), warmupS);
  const last = during.slice(-LAST_SAMPLES);
  if (warm.length === 0 || last.length === 0) throw new Error(`too few samples (${during.length}) for growth`);
  const at = (list: MemorySample[], key: "rssMiB" | "heapUsedMiB"): number => round1(median(list.map((s) => s[key])));
  const [rssStart, rssEnd] = [at(warm, "rssMiB"), at(last, "rssMiB")];
  const [heapStart, heapEnd] = [at(warm, "heapUsedMiB"), at(last, "heapUsedMiB")];
  const heapSlope = slope(during.slice(warmupS + settleS).map((s) => ({ x: s.t, y: s.heapUsedMiB * 1024 })));
  const growth = {
    warmupSeconds: warmupS, slopeFromSecond: warmupS + settleS + 1,
    rssStartMiB: rssStart, rssEndMiB: rssEnd, rssPercent: percent(rssStart, rssEnd),
    heapStartMiB: heapStart, heapEndMiB: heapEnd, heapPercent: percent(heapStart, heapEnd),
    heapSlopeKiBPerSecond: round1(heapSlope),
  };
  const afterGc = {
    method: gc?.method ?? null,
    warmup: gcWarmup ?? null,
    end: gcEnd,
    rssPercent: gcWarmup === undefined ? null : percent(gcWarmup.rssMiB, gcEnd.rssMiB),
    heapPercent: gcWarmup === undefined ? null : percent(gcWarmup.heapUsedMiB, gcEnd.heapUsedMiB),
  };
  const connections = tally.connections;
  const perSecond = connections / seconds;

  print(
    `echoed ${tally.echoed}, aborted ${tally.aborted} (the server saw ${tally.serverResets} resets); ` +
      `fds ${fdsBefore} before the listener, ${fdsAfter} after closing` +
      (fresh.own.length > 0 ? ` (the runtime's own, not counted: ${fresh.own.join(", ")})` : "") +
      (fresh.sockets.length > 0 ? `; sockets left open: ${fresh.sockets.join(", ")}` : ""),
  );
  const mib = (value: number): string => `${value.toFixed(1)} MiB`;
  const { warmup: w, end: e } = afterGc;
  print(
    w === null
      ? `after GC: none forced (the runtime offers no GC call); end rss ${mib(e.rssMiB)}, heap ${mib(e.heapUsedMiB)}`
      : `after GC with ${afterGc.method}: warm-up rss ${mib(w.rssMiB)}, heap ${mib(w.heapUsedMiB)}; ` +
        `end rss ${mib(e.rssMiB)} (${signed(afterGc.rssPercent)}%), heap ${mib(e.heapUsedMiB)} (${signed(afterGc.heapPercent)}%)`,
  );
  for (const message of tally.firstErrors) print(`error: ${message}`);
  const summary = `${BENCH} ${runtime} ${runtimeVersion}: ${connections} connections in ${seconds.toFixed(1)} s ` +
    `(${perSecond.toFixed(0)}/s), errors ${tally.errors}, rss ${rssStart}→${rssEnd} MiB (${signed(growth.rssPercent)}%), ` +
    `heap ${heapStart}→${heapEnd} MiB (${signed(growth.heapPercent)}%), heap slope ${growth.heapSlopeKiBPerSecond} KiB/s, ` +
    `fds back: ${fdsBack ? "yes" : "no"}`;
  print(summary);
  if (options.json) {
    const { concurrency, size, abortEvery } = options;
    const { errors, aborted, serverResets } = tally;
    console.log(JSON.stringify({
      bench: BENCH, runtime, version: runtimeVersion, seconds: round1(seconds), concurrency, size, abortEvery,
      connections, connectionsPerSecond: round1(perSecond), errors, aborted, serverResets, samples, growth, afterGc,
      fdsBefore, fdsAfter, fdsBack, fdsRuntimeOwn: fresh.own, fdsLeftOpen: fresh.sockets, summary,
    }));
  }
  if (tally.errors > 0) throw new Error(`${tally.errors} unexpected errors, the first: ${tally.firstErrors[0]}`);
  if (tally.serverResets > tally.aborted) {
    throw new Error(`the server saw ${tally.serverResets} resets, only ${tally.aborted} connections were aborted`);
  }
  if (!fdsBack) throw new Error(`descriptors left open: ${[...fresh.sockets, ...fresh.own].join(", ")}`);
}

runMain(BENCH, main);
