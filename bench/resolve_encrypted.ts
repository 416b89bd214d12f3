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
 * nI with I ≡ W (mod N), so that no two lookups in flight share a query; lookups/s =
 * lookups done / seconds (and the process's CPU time per lookup, all threads). A warm-up of 200 ms per transport comes first,
 * which also opens the one DoT or DoH connection (each transport uses one, reused).
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
}

/** Runs `concurrency` workers doing lookups until `ms` have passed; the number done. */
async function run(resolver: WireResolver, concurrency: number, ms: number): Promise<{ lookups: number; elapsedMs: number }> {
  const start = performance.now();
  const deadline = start + ms;
  let lookups = 0;
  const worker = async (_: unknown, w: number): Promise<void> => {
    for (let i = w; performance.now() < deadline; i = (i + concurrency) % (NAMES - (NAMES % concurrency))) {
      const addresses = await resolver.resolve(name(i), "any");
      if (addresses.length !== 1 || addresses[0] !== expected(i)) {
        throw new Error(`${name(i)}: expected ${expected(i)}, got ${addresses.join(", ")}`);
      }
      lookups++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { lookups, elapsedMs: performance.now() - start };
}

async function measure(transport: string, server: string, ca: string, options: Options): Promise<Figure> {
  await using resolver = new WireResolver({ nameservers: [server], hosts: {}, search: [], timeout: 5000, attempts: 1, cacheSize: 0, ca });
  const first = await resolver.resolve(name(0), "any");
  if (first.join() !== expected(0)) throw new Error(`${transport}: ${name(0)} gave ${first.join(", ")}`);
  await run(resolver, options.concurrency, WARM_UP_MS);
  const connections = encryptedCounters.connections;
  const queries = resolver.stats.udpQueries + encryptedCounters.queries;
  const cpu = process.cpuUsage();
  const { lookups, elapsedMs } = await run(resolver, options.concurrency, options.timeMs);
  const used = process.cpuUsage(cpu);
  const asked = resolver.stats.udpQueries + encryptedCounters.queries - queries;
  if (asked < lookups * 2) throw new Error(`${transport}: ${lookups} lookups but only ${asked} queries: a cache answered`);
  return {
    transport,
    server,
    lookups,
    lookupsPerSecond: Math.round(lookups / (elapsedMs / 1000)),
    connections: encryptedCounters.connections - connections,
    cpuUsPerLookup: Math.round((used.user + used.system) / lookups),
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const certs = await testCertificates();
  let peer: UnboundPeer | undefined;
  try {
    peer = await startUnbound({ cert: certs.server.cert, key: certs.server.key, extraConfig: ["http-max-streams: 200"] });
    const figures: Figure[] = [];
    const only = (process.env.BENCH_ONLY ?? "").split(",").filter((t) => t !== "");
    const servers: [string, string][] = [
      ["udp", `${peer.host}:${peer.port}`],
      ["dot", `tls://${peer.host}:${peer.tlsPort}#localhost`],
      ["doh", `https://${peer.host}:${peer.httpsPort}${peer.path}#localhost`],
    ];
    for (const [transport, server] of servers) {
      if (only.length === 0 || only.includes(transport)) figures.push(await measure(transport, server, certs.ca.cert, options));
    }
    const udp = figures.find((figure) => figure.transport === "udp")?.lookupsPerSecond;
    const rows = figures.map((figure) => ({
      ...figure,
      ratioToUdp: Number((figure.lookupsPerSecond / (udp ?? figure.lookupsPerSecond)).toFixed(2)),
      withinGoal: (udp ?? 0) / figure.lookupsPerSecond <= GOAL_FACTOR,
    }));
    const table = [
      `${BENCH} on ${runtime} ${runtimeVersion}: ${options.concurrency} lookups at a time (A+AAAA of distinct names, cache off), ${options.timeMs} ms each`,
      ...rows.map((row) =>
        `  ${row.transport.padEnd(4)} ${String(row.lookupsPerSecond).padStart(8)} lookups/s  ${row.ratioToUdp.toFixed(2)}× UDP` +
        `  ${String(row.cpuUsPerLookup).padStart(4)} µs CPU/lookup` +
        (row.transport === "udp" ? "" : `  ${row.connections} connection(s) opened while timed${row.withinGoal ? "" : `  (goal: within ${GOAL_FACTOR}×)`}`)
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
