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
 * Each round (bench/stream_throughput.ts, shared with uds_vs_tcp.ts) opens a fresh listener
 * and connection and sends the whole amount from a client to the accepted server side in
 * 64 KiB chunks; the clock runs from when both ends
 * are connected until the client finished sending (FIN included) and the server has read
 * every byte up to end of stream. A warm-up round of each side comes first and is not
 * counted; then the sides alternate, swapping which goes first every round. MB = 10^6 bytes.
 * The table also gives each round's CPU seconds per GB (user + system of the whole process,
 * which holds both ends), a steadier figure than MB/s on a busy machine. The last line is
 * `tcp_throughput RUNTIME VERSION: unisock N MB/s, native N MB/s, ratio R`: the MB/s are
 * medians over the rounds, the ratio the median over the rounds of unisock/native in the
 * same round.
 *
 *   --reader R     how both receivers get the bytes (BENCH_READER, default read):
 *                  `read`, into the receiver's own reused 64 KiB buffer (unisock `read(buffer)`,
 *                  Deno `conn.read`, Node and Bun copy each 'data' chunk into it), or
 *                  `readable`, chunks the receiver owns (unisock and Deno `conn.readable`,
 *                  Node and Bun 'data' chunks): the same work on both sides either way
 *
 * - unisock: `Listener.accept()`, the server reads as `--reader` says until end of stream;
 *   the client `await conn.write(chunk)` then `closeWrite()`.
 * - native, Node: `node:net`, the client writes until `write()` returns false and waits for
 *   'drain'.
 * - native, Deno: `Deno.listen`/`Deno.connect`, a `conn.write` loop that handles partial
 *   writes.
 * - native, Bun: `Bun.listen`/`Bun.connect`, `socket.write` returns the bytes taken, the
 *   rest goes on 'drain'.
 *
 * @module
 */
import process from "node:process";
import { median, pad, pairedRatio, round1, round3, runMain, runtime, runtimeVersion } from "./common.ts";
import { CHUNK, HOST, measure, MIB, nativeApi, nativeRound, parseStreamOptions, unisockRound } from "./stream_throughput.ts";
import type { Figures, RoundFn, StreamTarget } from "./stream_throughput.ts";

const BENCH = "tcp_throughput";

type Side = "unisock" | "native";
const SIDES: readonly Side[] = ["unisock", "native"];

const TCP = (): StreamTarget => ({ transport: "tcp" });
const ROUNDS: Record<Side, RoundFn> = { unisock: unisockRound(TCP), native: nativeRound(TCP) };

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

function row(label: string, order: string, unisock: Figures | undefined, native: Figures | undefined, note = ""): string {
  const mbps = (figures: Figures | undefined) => pad(figures?.mbps.toFixed(1) ?? "-", 13);
  const cpu = (figures: Figures | undefined) => pad(figures?.cpuPerGB.toFixed(3) ?? "-", 14);
  return `${label.padEnd(8)}${order.padEnd(16)}${mbps(unisock)}${mbps(native)}${cpu(unisock)}${cpu(native)}${note}`;
}

async function main(): Promise<void> {
  const options = parseStreamOptions(BENCH, process.argv.slice(2), SIDES);
  const total = Math.round(options.mib * MIB);
  const NATIVE_API = nativeApi("tcp");
  const print = options.json ? (line: string) => console.error(line) : (line: string) => console.log(line);

  print(
    `${BENCH} on ${runtime} ${runtimeVersion}: ${options.mib} MiB per round over ${HOST}, ${CHUNK / 1024} KiB chunks, ` +
      `${options.rounds} rounds of each after a warm-up; unisock receives with ${options.reader === "read" ? "read(buffer)" : "readable"}; ` +
      `native = ${NATIVE_API}`,
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
    for (const side of order) figures[side] = await measure(side, ROUNDS[side], total, options.timeoutMs);
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
  // Round by round: the two sides of one round ran back to back, so a drift of the machine
  // between rounds cancels out.
  const ratio = pairedRatio(results.unisock.map((f) => f.mbps), results.native.map((f) => f.mbps));
  print(row("median", "", unisock, native));
  const summary = `${BENCH} ${runtime} ${runtimeVersion}${options.reader === "readable" ? " (readable)" : ""}: unisock ${unisock.mbps.toFixed(0)} MB/s, native ${
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
      reader: options.reader,
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

runMain(BENCH, main);
