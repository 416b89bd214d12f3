/**
 * Name resolution speed: unisock's `WireResolver` against the runtime's own DNS resolver,
 * both asking the same local dnsmasq, and `resolveAddresses` answered from a warm cache;
 * in one process, on whichever runtime runs it. Measured with tinybench.
 *
 *   node bench/resolve.ts [options]
 *   deno run -A bench/resolve.ts [options]
 *   bun bench/resolve.ts [options]
 *
 * Options (each also from the environment):
 *   --time MS          time budget of each uncached task (BENCH_TIME_MS, default 2000)
 *   --cached-time MS   time budget of each cached task (BENCH_CACHED_TIME_MS, default 1000)
 *   --batch N          calls per sample of the cached tasks (BENCH_BATCH, default 1000)
 *   --json             print one JSON line with the figures instead of the table (BENCH_JSON=1);
 *                      the table then goes to stderr
 *
 * It starts dnsmasq on 127.0.0.1 at a free port (tests/peers/dnsmasq.ts; no other server
 * knows the zone `test`) and stops it at the end, also on failure. All traffic is to
 * 127.0.0.1. One lookup = a.test, A and AAAA asked in parallel (two DNS queries), one at
 * a time; ops/s = 1000 / mean latency in ms.
 *
 * 32 at a time: a second dnsmasq (`startDnsmasq({ wildcard: "w.test" })`, not
 * authoritative, TTL 0) answers every name under w.test. Each sample starts 32 lookups
 * at once, of names never asked before (`w<N>.w.test` for wire, `n<N>.w.test` for
 * native, N counting up: the same length), so no cache can help either side, and awaits
 * them all. The two sides alternate in 8 rounds of `--time` / 4 ms each (the first side
 * of a round alternating too, after a warm-up of both), so a drift of this noisy machine
 * falls on both alike: a side's lookups/s is its median over the rounds, and the ratio is
 * the median over the rounds of wire/native in the same round. Both sides ask that one
 * server: wire with a `WireResolver` with `cacheSize: 0` as above; native with one
 * resolver for the whole task (Node: one `dns.promises.Resolver`; Bun: one too, since
 * no name repeats, its cache cannot answer; Deno: `Deno.resolveDns`). After that dnsmasq
 * is stopped, the native side is asked the last name once more (it must not answer).
 *
 * - wire, uncached: `resolveAddresses("a.test", { resolver, family: "any" })` with a
 *   `WireResolver({ nameservers: [dnsmasq], hosts: {}, search: [], cacheSize: 0 })`: the
 *   cache is off, so every lookup sends both queries (checked with `resolver.stats`).
 * - native, uncached:
 *   - Node: one `dns.promises.Resolver({ timeout, tries })` with `setServers([dnsmasq])`,
 *     `resolve4` and `resolve6` in parallel. Node turns c-ares' query cache off.
 *   - Deno: `Deno.resolveDns("a.test", "A" | "AAAA", { nameServer })` in parallel; every
 *     call builds its own resolver, so nothing is cached.
 *   - Bun: `node:dns` `Resolver` with `setServers([dnsmasq])` does ask dnsmasq, but Bun
 *     leaves c-ares' query cache on (up to the TTL, 600 s here) and offers no way to turn
 *     it off: setting the same servers again does not flush it, and the name's case is
 *     ignored. So each lookup gets a fresh `Resolver`, made and warmed up (one query for
 *     v4only.test, which opens its socket) in tinybench's `beforeEach`, outside the timed
 *     part: the timed part is the same `resolve4` + `resolve6` on a warm channel with an
 *     empty cache.
 *   Before the run, the native answers are checked to be dnsmasq's (203.0.113.10 and
 *   2001:db8::10); after dnsmasq is stopped, the native resolver the timed part last
 *   used is asked once more: an answer then can only come from a cache.
 * - cached: `resolveAddresses("a.test", { resolver })` with a second, warm `WireResolver`
 *   (default cache), and for reference `resolveAddresses("localhost")` and
 *   `resolveAddresses("127.0.0.1")` (no resolver involved). Each sample awaits `--batch`
 *   calls one after the other and reports their mean.
 *
 * @module
 */
import dns from "node:dns";
import process from "node:process";
import { Bench } from "tinybench";
import type { Task } from "tinybench";
import { resolveAddresses, WireResolver } from "../mod.ts";
import { alternateRounds, median, pairedRatio, round1, round3 } from "./common.ts";
import type { DenoApi } from "../deno/deno_api.ts";
import { startDnsmasq } from "../tests/peers/dnsmasq.ts";
import type { Dnsmasq } from "../tests/peers/dnsmasq.ts";

const BENCH = "resolve";
const NAME = "a.test";
const EXPECTED_A = "203.0.113.10";
const EXPECTED_AAAA = "2001:db8::10";
/** What `resolveAddresses` gives for a.test: IPv6 first. */
const EXPECTED = [EXPECTED_AAAA, EXPECTED_A];
/** A name dnsmasq answers that the timed part never asks: warms up a fresh Bun resolver. */
const PRIMING_NAME = "v4only.test";
const QUERY_TIMEOUT_MS = 1000;
const QUERY_TRIES = 2;
const PROBE_TIMEOUT_MS = 1000;
const CACHED_GOAL = 2_000_000;
/** Lookups started together in the concurrent task. */
const CONCURRENCY = 32;
const WILDCARD = "w.test";
/** Rounds of the concurrent task, each giving both sides `--time` / (rounds / 2) ms. */
const CONCURRENT_ROUNDS = 8;
const WILDCARD_A = "203.0.113.9";
const WILDCARD_AAAA = "2001:db8::9";

type Runtime = "node" | "deno" | "bun";

const globals = globalThis as unknown as {
  Deno?: DenoApi & { version: { deno: string } };
  Bun?: { version: string };
};

const runtime: Runtime = globals.Deno !== undefined ? "deno" : globals.Bun !== undefined ? "bun" : "node";
const runtimeVersion = globals.Deno?.version.deno ?? globals.Bun?.version ?? process.versions.node;

const NATIVE_API = runtime === "deno"
  ? "Deno.resolveDns A+AAAA with nameServer"
  : runtime === "bun"
  ? "node:dns Resolver.setServers resolve4+resolve6, a fresh Resolver per lookup (Bun's c-ares cache cannot be turned off)"
  : "node:dns Resolver.setServers resolve4+resolve6";

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

interface Options {
  timeMs: number;
  cachedTimeMs: number;
  batch: number;
  json: boolean;
}

function usage(message?: string): never {
  if (message !== undefined) console.error(`${BENCH}: ${message}`);
  console.error(`usage: ${BENCH}.ts [--time MS] [--cached-time MS] [--batch N] [--json]`);
  process.exit(message === undefined ? 0 : 2);
}

function positiveInteger(name: string, text: string | undefined): number {
  const value = Number(text);
  if (text === undefined || text === "" || !Number.isInteger(value) || value <= 0) {
    usage(`${name} must be a positive integer, got ${JSON.stringify(text)}`);
  }
  return value;
}

function parseOptions(args: string[]): Options {
  const env = process.env;
  const options: Options = {
    timeMs: positiveInteger("BENCH_TIME_MS", env.BENCH_TIME_MS ?? "2000"),
    cachedTimeMs: positiveInteger("BENCH_CACHED_TIME_MS", env.BENCH_CACHED_TIME_MS ?? "1000"),
    batch: positiveInteger("BENCH_BATCH", env.BENCH_BATCH ?? "1000"),
    json: env.BENCH_JSON === "1" || env.BENCH_JSON === "true",
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? arg.split("=", 2) : [arg, undefined];
    const value = (): string | undefined => inline ?? args[++i];
    if (flag === "--time") options.timeMs = positiveInteger("--time", value());
    else if (flag === "--cached-time") options.cachedTimeMs = positiveInteger("--cached-time", value());
    else if (flag === "--batch") options.batch = positiveInteger("--batch", value());
    else if (flag === "--json") options.json = true;
    else if (flag === "--help" || flag === "-h") usage();
    else usage(`unknown argument ${JSON.stringify(arg)}`);
  }
  return options;
}

// ---------------------------------------------------------------------------
// The native resolver of each runtime
// ---------------------------------------------------------------------------

/** One lookup of a.test: the A and the AAAA answers. */
type Lookup = () => Promise<[string[], string[]]>;

interface NativeResolver {
  /** The timed lookup. */
  lookup: Lookup;
  /** Runs before each timed lookup, outside the timing (Bun: a fresh, warmed-up resolver). */
  beforeEach: (() => Promise<void>) | undefined;
  /** One lookup by the resolver the timed part last used, bounded in time: for the cache probe. */
  probe(): Promise<[string[], string[]]>;
}

function nodeResolver(server: string): dns.promises.Resolver {
  const resolver = new dns.promises.Resolver({ timeout: QUERY_TIMEOUT_MS, tries: QUERY_TRIES });
  resolver.setServers([server]);
  return resolver;
}

function bothFamilies(resolver: dns.promises.Resolver): Promise<[string[], string[]]> {
  return Promise.all([resolver.resolve4(NAME), resolver.resolve6(NAME)]);
}

function nativeResolver(dnsmasq: Dnsmasq): NativeResolver {
  const deno = globals.Deno;
  if (deno !== undefined) {
    const nameServer = { ipAddr: "127.0.0.1", port: dnsmasq.port };
    const ask = (signal?: AbortSignal): Promise<[string[], string[]]> =>
      Promise.all([deno.resolveDns(NAME, "A", { nameServer, signal }), deno.resolveDns(NAME, "AAAA", { nameServer, signal })]);
    return { lookup: () => ask(), beforeEach: undefined, probe: () => ask(AbortSignal.timeout(PROBE_TIMEOUT_MS)) };
  }
  if (runtime === "bun") {
    let current = nodeResolver(dnsmasq.server);
    return {
      lookup: () => bothFamilies(current),
      async beforeEach() {
        current = nodeResolver(dnsmasq.server);
        await current.resolve4(PRIMING_NAME);
      },
      probe: () => bothFamilies(current),
    };
  }
  const resolver = nodeResolver(dnsmasq.server);
  return { lookup: () => bothFamilies(resolver), beforeEach: undefined, probe: () => bothFamilies(resolver) };
}

/** Asks the native resolver for A and AAAA of any name: the concurrent task's native side. */
type NameLookup = (name: string, signal?: AbortSignal) => Promise<[string[], string[]]>;

function nativeNameLookup(dnsmasq: Dnsmasq): NameLookup {
  const deno = globals.Deno;
  if (deno !== undefined) {
    const nameServer = { ipAddr: "127.0.0.1", port: dnsmasq.port };
    return (name, signal) =>
      Promise.all([deno.resolveDns(name, "A", { nameServer, signal }), deno.resolveDns(name, "AAAA", { nameServer, signal })]);
  }
  const resolver = nodeResolver(dnsmasq.server);
  return (name) => Promise.all([resolver.resolve4(name), resolver.resolve6(name)]);
}

function checkWildcardNative(name: string, [v4, v6]: [string[], string[]]): void {
  if (v4.length !== 1 || v4[0] !== WILDCARD_A || v6.length !== 1 || v6[0] !== WILDCARD_AAAA) {
    throw new Error(`native resolver answered ${JSON.stringify([v4, v6])} for ${name}, not dnsmasq's ${WILDCARD_A} and ${WILDCARD_AAAA}`);
  }
}

function checkWildcardWire(name: string, addresses: string[]): void {
  if (addresses.length !== 2 || addresses[0] !== WILDCARD_AAAA || addresses[1] !== WILDCARD_A) {
    throw new Error(`resolveAddresses(${JSON.stringify(name)}) gave ${JSON.stringify(addresses)}, not ${WILDCARD_AAAA} and ${WILDCARD_A}`);
  }
}

/** Whether the native side still answers `name` with the wildcard dnsmasq stopped: then it caches. */
async function wildcardAnswersWithoutServer(lookup: NameLookup, name: string): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), PROBE_TIMEOUT_MS + 500)));
  try {
    const outcome = await Promise.race([lookup(name, AbortSignal.timeout(PROBE_TIMEOUT_MS)), bound]);
    if (outcome === "timeout") return false;
    checkWildcardNative(name, outcome);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

function checkNative([v4, v6]: [string[], string[]]): void {
  if (v4.length !== 1 || v4[0] !== EXPECTED_A || v6.length !== 1 || v6[0] !== EXPECTED_AAAA) {
    throw new Error(`native resolver answered ${JSON.stringify([v4, v6])}, not dnsmasq's ${EXPECTED_A} and ${EXPECTED_AAAA}`);
  }
}

function checkWire(addresses: string[]): void {
  if (addresses.length !== EXPECTED.length || addresses[0] !== EXPECTED[0] || addresses[1] !== EXPECTED[1]) {
    throw new Error(`resolveAddresses(${JSON.stringify(NAME)}) gave ${JSON.stringify(addresses)}, not ${JSON.stringify(EXPECTED)}`);
  }
}

/** Whether the resolver still answers with dnsmasq stopped: then it answers from a cache. */
async function answersWithoutServer(native: NativeResolver): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), PROBE_TIMEOUT_MS + 500)));
  try {
    const outcome = await Promise.race([native.probe(), bound]);
    if (outcome === "timeout") return false;
    checkNative(outcome);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------

interface Figures {
  task: string;
  opsPerSec: number;
  meanUs: number;
  rme: number;
  samples: number;
}

function figures(task: Task): Figures {
  const result = task.result;
  if (result.state === "errored") throw result.error;
  if (result.state !== "completed") throw new Error(`task ${task.name} did not complete: ${result.state}`);
  return {
    task: task.name,
    opsPerSec: 1000 / result.latency.mean,
    meanUs: result.latency.mean * 1000,
    rme: result.latency.rme,
    samples: result.latency.samplesCount,
  };
}

/** Awaits `call` `batch` times one after the other; tinybench records the mean per call. */
function batched(batch: number, call: () => Promise<unknown>): () => Promise<{ overriddenDuration: number; overriddenIterationCost: number }> {
  return async () => {
    const start = performance.now();
    for (let i = 0; i < batch; i++) await call();
    const elapsed = performance.now() - start;
    return { overriddenDuration: elapsed / batch, overriddenIterationCost: elapsed };
  };
}


function formatOps(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

function millions(value: number): string {
  return `${(value / 1e6).toFixed(2)}M`;
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const print = options.json ? (line: string) => console.error(line) : (line: string) => console.log(line);

  const dnsmasq = await startDnsmasq();
  let wildcard: Dnsmasq | undefined;
  let stopping: Promise<void> | undefined;
  let stoppingWildcard: Promise<void> | undefined;
  const stopDnsmasq = (): Promise<void> => (stopping ??= dnsmasq.stop());
  const stopWildcard = (): Promise<void> => (stoppingWildcard ??= wildcard?.stop() ?? Promise.resolve());
  const onSignal = (): void => void Promise.all([stopDnsmasq(), stopWildcard()]).finally(() => process.exit(130));
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, onSignal);
  try {
    wildcard = await startDnsmasq({ wildcard: WILDCARD });
    await run(options, print, dnsmasq, stopDnsmasq, wildcard, stopWildcard);
  } finally {
    await Promise.all([stopDnsmasq(), stopWildcard()]);
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.off(signal, onSignal);
  }
}

async function run(
  options: Options,
  print: (line: string) => void,
  dnsmasq: Dnsmasq,
  stopDnsmasq: () => Promise<void>,
  wildcard: Dnsmasq,
  stopWildcard: () => Promise<void>,
): Promise<void> {
  print(
    `${BENCH} on ${runtime} ${runtimeVersion}: dnsmasq at ${dnsmasq.server}; one lookup = ${NAME} A+AAAA in parallel (2 DNS queries); ` +
      `uncached tasks ${options.timeMs} ms, cached tasks ${options.cachedTimeMs} ms x ${options.batch} calls per sample`,
  );
  print(`native = ${NATIVE_API}; wire = WireResolver with cacheSize: 0`);
  print(`${CONCURRENCY} at a time: dnsmasq at ${wildcard.server} answering *.${WILDCARD}; each lookup a name not asked before`);

  const wireOptions = { nameservers: [dnsmasq.server], hosts: {}, search: [], ndots: 1, timeout: QUERY_TIMEOUT_MS, attempts: QUERY_TRIES };
  const uncached = new WireResolver({ ...wireOptions, cacheSize: 0 });
  const warm = new WireResolver(wireOptions);
  const native = nativeResolver(dnsmasq);

  // Both sides must get dnsmasq's answers (no other server knows a.test).
  checkWire(await resolveAddresses(NAME, { resolver: uncached, family: "any" }));
  if (native.beforeEach !== undefined) await native.beforeEach();
  checkNative(await native.lookup());
  checkWire(await resolveAddresses(NAME, { resolver: warm }));
  const warmQueries = warm.stats.udpQueries;

  let wireLookups = 0;
  const wireBefore = { ...uncached.stats };
  const uncachedBench = new Bench({ name: "uncached", time: options.timeMs, warmupTime: 500, throws: true });
  uncachedBench.add("wire uncached a.test", async () => {
    wireLookups++;
    checkWire(await resolveAddresses(NAME, { resolver: uncached, family: "any" }));
  });
  const nativeBeforeEach = native.beforeEach;
  uncachedBench.add(
    "native uncached a.test",
    async () => checkNative(await native.lookup()),
    nativeBeforeEach === undefined ? {} : { beforeEach: () => nativeBeforeEach() },
  );
  await uncachedBench.run();

  // 32 at a time, unique names, against the wildcard dnsmasq.
  const wireConcurrent = new WireResolver({ ...wireOptions, nameservers: [wildcard.server], cacheSize: 0 });
  const nativeConcurrent = nativeNameLookup(wildcard);
  let wireNames = 0;
  let nativeNames = 0;
  let lastNativeName = "";
  const wireName = (): string => `w${wireNames++}.${WILDCARD}`;
  const nativeName = (): string => (lastNativeName = `n${nativeNames++}.${WILDCARD}`);
  {
    const name = wireName();
    checkWildcardWire(name, await resolveAddresses(name, { resolver: wireConcurrent, family: "any" }));
    const other = nativeName();
    checkWildcardNative(other, await nativeConcurrent(other));
  }
  const wireConcurrentBefore = { ...wireConcurrent.stats };
  const wireNamesBefore = wireNames;
  const wireBatch = async (): Promise<number> => {
    const lookups: Promise<void>[] = [];
    for (let i = 0; i < CONCURRENCY; i++) {
      const name = wireName();
      lookups.push(resolveAddresses(name, { resolver: wireConcurrent, family: "any" }).then((addresses) => checkWildcardWire(name, addresses)));
    }
    await Promise.all(lookups);
    return CONCURRENCY;
  };
  const nativeBatch = async (): Promise<number> => {
    const lookups: Promise<void>[] = [];
    for (let i = 0; i < CONCURRENCY; i++) {
      const name = nativeName();
      lookups.push(nativeConcurrent(name).then((answers) => checkWildcardNative(name, answers)));
    }
    await Promise.all(lookups);
    return CONCURRENCY;
  };
  // Warm-up, then rounds that alternate the two sides (see alternateRounds).
  await alternateRounds(1, 300, { wire: wireBatch, native: nativeBatch });
  const roundMs = options.timeMs / (CONCURRENT_ROUNDS / 2);
  const rates = await alternateRounds(CONCURRENT_ROUNDS, roundMs, { wire: wireBatch, native: nativeBatch });
  const roundFigures = (task: string, perRound: number[]): Figures => {
    const opsPerSec = median(perRound);
    return {
      task,
      opsPerSec,
      meanUs: (CONCURRENCY * 1e6) / opsPerSec,
      rme: ((Math.max(...perRound) - Math.min(...perRound)) / 2 / opsPerSec) * 100,
      samples: perRound.length,
    };
  };
  const wireMany = roundFigures(`wire uncached ${CONCURRENCY} at a time`, rates.wire);
  const nativeMany = roundFigures(`native uncached ${CONCURRENCY} at a time`, rates.native);
  const wireManyLookups = wireNames - wireNamesBefore;
  const wireManyQueries = wireConcurrent.stats.udpQueries - wireConcurrentBefore.udpQueries;
  const wireManyHits = wireConcurrent.stats.cacheHits - wireConcurrentBefore.cacheHits;
  if (wireManyQueries !== 2 * wireManyLookups || wireManyHits !== 0) {
    throw new Error(`wire ${CONCURRENCY} at a time: ${wireManyLookups} lookups sent ${wireManyQueries} UDP queries with ${wireManyHits} cache hits`);
  }
  await stopWildcard();
  const nativeManyCached = await wildcardAnswersWithoutServer(nativeConcurrent, lastNativeName);
  const ratioMany = pairedRatio(rates.wire, rates.native);

  // Each sample is already a mean over `batch` calls: 16 samples at least is plenty, and keeps a
  // slow reference task (localhost) near its time budget.
  const cachedBench = new Bench({ name: "cached", time: options.cachedTimeMs, warmupTime: 300, iterations: 16, throws: true });
  cachedBench.add("cached resolveAddresses a.test", batched(options.batch, () => resolveAddresses(NAME, { resolver: warm })));
  cachedBench.add("resolveAddresses localhost", batched(options.batch, () => resolveAddresses("localhost")));
  cachedBench.add("resolveAddresses 127.0.0.1", batched(options.batch, () => resolveAddresses("127.0.0.1")));
  await cachedBench.run();

  const [wire, nativeFigures] = uncachedBench.tasks.map(figures);
  const [cached, localhost, literal] = cachedBench.tasks.map(figures);

  // The wire side really asked every time; the cached side never did.
  const wireQueries = uncached.stats.udpQueries - wireBefore.udpQueries;
  const wireCacheHits = uncached.stats.cacheHits - wireBefore.cacheHits;
  if (wireQueries !== 2 * wireLookups || wireCacheHits !== 0) {
    throw new Error(`wire: ${wireLookups} lookups sent ${wireQueries} UDP queries with ${wireCacheHits} cache hits`);
  }
  if (warm.stats.udpQueries !== warmQueries) throw new Error(`cached: the warm WireResolver sent ${warm.stats.udpQueries - warmQueries} queries`);

  await stopDnsmasq();
  const nativeCached = await answersWithoutServer(native);

  const ratio = wire.opsPerSec / nativeFigures.opsPerSec;
  const rows = [wire, nativeFigures, wireMany, nativeMany, cached, localhost, literal];
  const width = Math.max(...rows.map((row) => row.task.length)) + 2;
  print("");
  print(`${"task".padEnd(width)}${"ops/s".padStart(14)}${"mean µs".padStart(12)}${"±rme %".padStart(9)}${"samples".padStart(10)}`);
  for (const row of rows) {
    print(
      `${row.task.padEnd(width)}${formatOps(row.opsPerSec).padStart(14)}${row.meanUs.toFixed(3).padStart(12)}` +
        `${row.rme.toFixed(2).padStart(9)}${String(row.samples).padStart(10)}`,
    );
  }
  print("");
  print(`wire: ${wireLookups} lookups sent ${wireQueries} UDP queries, ${wireCacheHits} cache hits`);
  if (runtime === "bun") {
    print(
      `native after dnsmasq stopped: ${nativeCached ? "answered (from its cache)" : "no answer"}: ` +
        `Bun's Resolver caches, which is why each timed lookup used a fresh one`,
    );
  } else {
    print(`native after dnsmasq stopped: ${nativeCached ? "ANSWERED: it caches, the native figures are not uncached" : "no answer (no cache)"}`);
  }
  print(`wire ${CONCURRENCY} at a time: ${wireManyLookups} lookups sent ${wireManyQueries} UDP queries, ${wireManyHits} cache hits`);
  print(`native ${CONCURRENCY} at a time, after its dnsmasq stopped: ${nativeManyCached ? "ANSWERED: it caches" : "no answer (no cache)"}`);
  print(`uncached wire/native, one at a time = ${ratio.toFixed(2)} (goal >= 1)`);
  print(`uncached wire/native, ${CONCURRENCY} at a time = ${ratioMany.toFixed(2)} (goal >= 1)`);
  print(`cached resolveAddresses = ${formatOps(cached.opsPerSec)} ops/s (goal ${formatOps(CACHED_GOAL)})`);
  const summary = `${BENCH} ${runtime} ${runtimeVersion}: wire ${Math.round(wire.opsPerSec)} q/s, native ${
    Math.round(nativeFigures.opsPerSec)
  } q/s, ratio ${ratio.toFixed(2)}; ${CONCURRENCY} at a time wire ${Math.round(wireMany.opsPerSec)} q/s, native ${
    Math.round(nativeMany.opsPerSec)
  } q/s, ratio ${ratioMany.toFixed(2)}; cached ${millions(cached.opsPerSec)} ops/s`;
  print(summary);
  if (options.json) {
    const task = (row: Figures) => ({ opsPerSec: round1(row.opsPerSec), meanUs: round3(row.meanUs), rme: round3(row.rme), samples: row.samples });
    console.log(JSON.stringify({
      bench: BENCH,
      runtime,
      version: runtimeVersion,
      nativeApi: NATIVE_API,
      units: { opsPerSec: "1000 / mean latency in ms; a lookup = A+AAAA of a.test in parallel", meanUs: "microseconds", rme: "% of the mean" },
      wire: { ...task(wire), lookups: wireLookups, udpQueries: wireQueries, cacheHits: wireCacheHits },
      native: { ...task(nativeFigures), answeredAfterServerStopped: nativeCached, freshResolverPerLookup: runtime === "bun" },
      ratio: round3(ratio),
      concurrent: {
        concurrency: CONCURRENCY,
        units: {
          opsPerSec: `lookups/s: median over ${CONCURRENT_ROUNDS} rounds (the sides alternating) of the lookups done in the round / its seconds; ` +
            `a sample = ${CONCURRENCY} lookups started together, each of a new name, all awaited`,
          rme: "half the spread of the rounds, % of the median",
          ratio: "median over the rounds of wire/native in the same round",
        },
        rounds: { wire: rates.wire.map(round1), native: rates.native.map(round1) },
        wire: { ...task(wireMany), lookups: wireManyLookups, udpQueries: wireManyQueries, cacheHits: wireManyHits },
        native: { ...task(nativeMany), answeredAfterServerStopped: nativeManyCached },
        ratio: round3(ratioMany),
      },
      cached: { ...task(cached), batch: options.batch, goal: CACHED_GOAL },
      localhost: task(localhost),
      literal: task(literal),
      summary,
    }));
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`${BENCH} ${runtime} ${runtimeVersion}: FAILED:`, error);
    process.exit(1);
  },
);
