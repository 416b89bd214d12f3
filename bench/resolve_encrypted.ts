/**
 * Encrypted name resolution throughput: unisock's `WireResolver` asking the same local
 * unbound over plain UDP, DNS over TLS and DNS over HTTPS, many lookups at a time; in one
 * process, on whichever runtime runs it.
 *
 *   node bench/resolve_encrypted.ts [options]
 *   deno run -A bench/resolve_encrypted.ts [options]
 *   bun bench/resolve_encrypted.ts [options]
 *
 * Options (each also from the environment):
 *   --time MS          time budget of each transport (BENCH_TIME_MS, default 2000)
 *   --concurrency N    lookups in flight at once (BENCH_CONCURRENCY, default 32)
 *   --json             print one JSON line with the figures instead of the table (BENCH_JSON=1);
 *                      the table then goes to stderr; `dotOverUdp` and `dohOverUdp` are the ratios
 *                      (goal: `goal`, 0.5, i.e. within 2× of UDP)
 *   BENCH_ONLY=udp,doh only these transports (for profiling one; the ratios then need udp)
 *
 * It starts unbound on 127.0.0.1 (tests/peers/unbound.ts, with the test certificate of
 * tests/peers/certs.ts, trusted through `ca`) and stops it at the end, also on failure.
 * One lookup = `resolver.resolve("nI.unisock.test", "any")`: A and AAAA asked in
 * parallel (two DNS queries; the AAAA answer is NODATA), the cache off (`cacheSize: 0`,
 * checked by the query count), so every lookup asks. N workers (at most 200) each run
 * lookups one after the other until the time is up, worker W cycling through the names
 * nI with I ≡ W (mod N), so that no two lookups in flight share a query. A warm-up of
 * 200 ms per transport comes first, which also opens the one DoT or DoH connection (each
 * transport uses one, reused). Then DoT and DoH each take turns of 400 ms with UDP,
 * `--time` / 400 rounds (at least 3), the first of a round alternating, so a drift of this
 * noisy machine falls on both sides alike: a transport's ratio to UDP is the median over
 * its rounds of the two rates of the same round, its lookups/s the median of its turns
 * (lookups done by the end of the turn / its seconds), and its CPU time per lookup (the
 * process's, all threads) is over all its turns.
 *
 * Mind the server: unbound 1.17 leaves Nagle's algorithm on for its DNS-over-TLS
 * connections (it sets TCP_NODELAY only for HTTP, `http-nodelay`, and has no such option for
 * DoT), so an answer it writes while the previous one is not yet acknowledged waits for the
 * client's delayed ACK (up to 40 ms on Linux). The DoT client keeps at most 16 queries
 * written and unanswered per connection (resolve/wire/dot.ts, `WINDOW`), so that the write
 * after each answer read carries the ACK unbound waits for, and writes the queries of one
 * turn of the event loop together (one TLS record); below 16 queries in flight the window
 * cannot help: a lone lookup's second answer still waits for the delayed ACK about one
 * time in ten (p90 ~42 ms against p50 ~0.7 ms, serial lookups over DoT to unbound 1.17).
 * DoH runs on unisock's own HTTP/2 client (resolve/wire/doh.ts), GET `?dns=`, the HEADERS
 * frames of one turn written together.
 *
 * @module
 */
import process from "node:process";
import { WireResolver } from "../mod.ts";
import { median, round3 } from "./common.ts";
import { encryptedCounters } from "../resolve/wire/encrypted.ts";
import { testCertificates } from "../tests/peers/certs.ts";
import { startUnbound } from "../tests/peers/unbound.ts";
import type { UnboundPeer } from "../tests/peers/unbound.ts";

const BENCH = "resolve_encrypted";
/** The zone's n0 ... n199.unisock.test: A 198.51.100.(I+1), no AAAA. */
const NAMES = 200;
const name = (i: number): string => `n${i}.unisock.test`;
const expected = (i: number): string => `198.51.100.${i + 1}`;
const WARM_UP_MS = 200;
/** The goal: encrypted lookups/s within this factor of UDP's. */
const GOAL_FACTOR = 2;
/** The time of one turn of the timed part (see `measure`): two in a row stay under the 1 s a DoT or DoH connection may be idle. */
const TURN_MS = 400;

type Runtime = "node" | "deno" | "bun";

const globals = globalThis as unknown as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
const runtime: Runtime = globals.Deno !== undefined ? "deno" : globals.Bun !== undefined ? "bun" : "node";
const runtimeVersion = globals.Deno?.version.deno ?? globals.Bun?.version ?? process.versions.node;

interface Options {
  timeMs: number;
  concurrency: number;
  json: boolean;
}

function usage(message?: string): never {
  if (message !== undefined) console.error(`${BENCH}: ${message}`);
  console.error(`usage: ${BENCH}.ts [--time MS] [--concurrency N] [--json]`);
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
    concurrency: positiveInteger("BENCH_CONCURRENCY", env.BENCH_CONCURRENCY ?? "32"),
    json: env.BENCH_JSON === "1" || env.BENCH_JSON === "true",
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? arg.split("=", 2) : [arg, undefined];
    const value = (): string | undefined => inline ?? args[++i];
    if (flag === "--time") options.timeMs = positiveInteger("--time", value());
    else if (flag === "--concurrency") options.concurrency = positiveInteger("--concurrency", value());
    else if (flag === "--json") options.json = true;
    else if (flag === "--help" || flag === "-h") usage();
    else usage(`unknown argument ${JSON.stringify(arg)}`);
  }
  if (options.concurrency > NAMES) usage(`--concurrency must be at most ${NAMES}`);
  return options;
}

interface Figure {
  transport: string;
  server: string;
  lookups: number;
  lookupsPerSecond: number;
  /** DoT/DoH connections opened during the timed part (0 for UDP). */
  connections: number;
  /** CPU time of this process (all its threads) per lookup, in microseconds. */
  cpuUsPerLookup: number;
  /** The median over the rounds of this transport's lookups/s over UDP's in the same round. */
  ratioToUdp: number;
}

/**
 * Runs `concurrency` workers doing lookups until `ms` have passed; the lookups done, and
 * those done by then (the rate of the steady state: without the tail of the last lookups).
 */
async function run(resolver: WireResolver, concurrency: number, ms: number): Promise<{ lookups: number; inTime: number }> {
  const deadline = performance.now() + ms;
  let lookups = 0;
  let inTime = 0;
  const worker = async (_: unknown, w: number): Promise<void> => {
    for (let i = w; performance.now() < deadline; i = (i + concurrency) % (NAMES - (NAMES % concurrency))) {
      const addresses = await resolver.resolve(name(i), "any");
      if (addresses.length !== 1 || addresses[0] !== expected(i)) {
        throw new Error(`${name(i)}: expected ${expected(i)}, got ${addresses.join(", ")}`);
      }
      lookups++;
      if (performance.now() <= deadline) inTime++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { lookups, inTime };
}

/** A transport's resolver, warmed up, and its counters before the timed rounds. */
interface Side {
  transport: string;
  server: string;
  resolver: WireResolver;
  /** Lookups and the process's CPU microseconds spent in this side's turns. */
  lookups: number;
  cpuUs: number;
  /** Lookups/s of each of its turns. */
  rates: number[];
  /** Its rate over UDP's, round by round (DoT and DoH). */
  ratios: number[];
  /** Connections opened in its timed phase (DoT and DoH). */
  connections: number;
}

async function openSide(transport: string, server: string, ca: string, options: Options): Promise<Side> {
  const resolver = new WireResolver({ nameservers: [server], hosts: {}, search: [], timeout: 5000, attempts: 1, cacheSize: 0, ca });
  const first = await resolver.resolve(name(0), "any");
  if (first.join() !== expected(0)) throw new Error(`${transport}: ${name(0)} gave ${first.join(", ")}`);
  await run(resolver, options.concurrency, WARM_UP_MS);
  return { transport, server, resolver, lookups: 0, cpuUs: 0, rates: [], ratios: [], connections: 0 };
}

/**
 * The timed part, one phase per encrypted transport: its connection warmed up again (it
 * closes after 1 s idle), then `--time` / TURN_MS rounds (at least 3) of one TURN_MS turn
 * of UDP and one of it, the first of the two alternating. A transport's ratio to UDP is the
 * median over its rounds of the two rates of the same round, so a drift of the machine
 * falls on both alike; UDP's rate is its median over all its turns.
 */
async function measure(sides: Side[], options: Options): Promise<Figure[]> {
  const queries = sides.reduce((sum, side) => sum + side.resolver.stats.udpQueries, 0) + encryptedCounters.queries;
  const rounds = Math.max(3, Math.round(options.timeMs / TURN_MS));
  const turn = async (side: Side): Promise<number> => {
    const cpu = process.cpuUsage();
    const { lookups, inTime } = await run(side.resolver, options.concurrency, TURN_MS);
    const used = process.cpuUsage(cpu);
    side.lookups += lookups;
    side.cpuUs += used.user + used.system;
    const rate = inTime / (TURN_MS / 1000);
    side.rates.push(rate);
    return rate;
  };
  const udp = sides.find((side) => side.transport === "udp");
  for (const side of sides) {
    if (side === udp && sides.length > 1) continue;
    if (side !== udp) await run(side.resolver, options.concurrency, WARM_UP_MS);
    const connections = encryptedCounters.connections;
    for (let round = 0; round < rounds; round++) {
      if (udp === undefined || side === udp) {
        await turn(side);
        continue;
      }
      const [first, second] = round % 2 === 0 ? [udp, side] : [side, udp];
      const rates = new Map([[first, await turn(first)], [second, await turn(second)]]);
      side.ratios.push(rates.get(side)! / rates.get(udp)!);
    }
    side.connections = encryptedCounters.connections - connections;
  }
  const asked = sides.reduce((sum, side) => sum + side.resolver.stats.udpQueries, 0) + encryptedCounters.queries - queries;
  const lookups = sides.reduce((sum, side) => sum + side.lookups, 0);
  if (asked < lookups * 2) throw new Error(`${lookups} lookups but only ${asked} queries: a cache answered`);
  for (const side of sides) {
    if (side.resolver.stats.cacheHits !== 0) throw new Error(`${side.transport}: ${side.resolver.stats.cacheHits} answers from the cache`);
  }
  return sides.map((side) => ({
    transport: side.transport,
    server: side.server,
    lookups: side.lookups,
    lookupsPerSecond: Math.round(median(side.rates)),
    connections: side.connections,
    cpuUsPerLookup: Math.round(side.cpuUs / side.lookups),
    ratioToUdp: side === udp ? 1 : udp === undefined ? Number.NaN : round3(median(side.ratios)),
  }));
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const certs = await testCertificates();
  let peer: UnboundPeer | undefined;
  try {
    peer = await startUnbound({ cert: certs.server.cert, key: certs.server.key, extraConfig: ["http-max-streams: 200"] });
    const sides: Side[] = [];
    const only = (process.env.BENCH_ONLY ?? "").split(",").filter((t) => t !== "");
    const servers: [string, string][] = [
      ["udp", `${peer.host}:${peer.port}`],
      ["dot", `tls://${peer.host}:${peer.tlsPort}#localhost`],
      ["doh", `https://${peer.host}:${peer.httpsPort}${peer.path}#localhost`],
    ];
    for (const [transport, server] of servers) {
      if (only.length === 0 || only.includes(transport)) sides.push(await openSide(transport, server, certs.ca.cert, options));
    }
    let figures: Figure[];
    try {
      figures = await measure(sides, options);
    } finally {
      for (const side of sides) await side.resolver.close();
    }
    const udp = figures.find((figure) => figure.transport === "udp")?.lookupsPerSecond;
    const rows = figures.map((figure) => ({
      ...figure,
      // Without UDP in the run (BENCH_ONLY), there is no ratio and no verdict.
      withinGoal: Number.isNaN(figure.ratioToUdp) ? undefined : figure.ratioToUdp >= 1 / GOAL_FACTOR,
    }));
    const table = [
      `${BENCH} on ${runtime} ${runtimeVersion}: ${options.concurrency} lookups at a time (A+AAAA of distinct names, cache off), ` +
        `${Math.max(3, Math.round(options.timeMs / TURN_MS))} turns of ${TURN_MS} ms each`,
      ...rows.map((row) =>
        `  ${row.transport.padEnd(4)} ${String(row.lookupsPerSecond).padStart(8)} lookups/s  ${Number.isNaN(row.ratioToUdp) ? "   -" : row.ratioToUdp.toFixed(2)}× UDP` +
        `  ${String(row.cpuUsPerLookup).padStart(4)} µs CPU/lookup` +
        (row.transport === "udp" ? "" : `  ${row.connections} connection(s) opened while timed${row.withinGoal === false ? `  (goal: within ${GOAL_FACTOR}×)` : ""}`)
      ),
      ...(udp === undefined ? [] : [`  DoT/UDP ${rows.find((r) => r.transport === "dot")?.ratioToUdp.toFixed(2) ?? "-"}, DoH/UDP ${rows.find((r) => r.transport === "doh")?.ratioToUdp.toFixed(2) ?? "-"} (goal ≥ ${1 / GOAL_FACTOR})`]),
    ].join("\n");
    if (options.json) {
      console.error(table);
      const ratioOf = (transport: string): number | undefined =>
        udp === undefined ? undefined : rows.find((row) => row.transport === transport)?.ratioToUdp;
      console.log(JSON.stringify({
        bench: BENCH,
        runtime,
        version: runtimeVersion,
        concurrency: options.concurrency,
        timeMs: options.timeMs,
        dotOverUdp: ratioOf("dot"),
        dohOverUdp: ratioOf("doh"),
        goal: 1 / GOAL_FACTOR,
        results: rows,
      }));
    } else console.log(table);
  } finally {
    await peer?.stop();
  }
}

await main();
