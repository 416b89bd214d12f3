/**
 * Unix domain sockets against TCP over 127.0.0.1, and unisock's Unix sockets against the
 * runtime's own, in one process, on whichever runtime runs it.
 *
 *   node bench/uds_vs_tcp.ts [options]
 *   deno run -A bench/uds_vs_tcp.ts [options]
 *   bun bench/uds_vs_tcp.ts [options]
 *
 * Options (each also from the environment):
 *   --mib N        MiB sent per round (BENCH_MIB, default 1024)
 *   --rounds N     counted rounds of each side (BENCH_ROUNDS, default 3)
 *   --timeout S    seconds a round may take before the run fails (BENCH_TIMEOUT_S, default 60)
 *   --json         print one JSON line with the figures instead of the table (BENCH_JSON=1);
 *                  the table then goes to stderr
 *   --only SIDE    run only `uds`, `tcp` or `native` (for profiling one side; no ratios)
 *   --reader R     how every receiver gets the bytes (BENCH_READER, default read): `read`
 *                  into its own reused 64 KiB buffer (native Node and Bun copy each 'data'
 *                  chunk into it, Deno `conn.read`), or `readable`, chunks it owns (native
 *                  Node and Bun 'data' chunks, Deno `conn.readable`); see tcp_throughput.ts
 *
 * Three sides, each round the same as in tcp_throughput.ts (bench/stream_throughput.ts:
 * a fresh listener and connection, the whole amount in 64 KiB chunks from the client to
 * the accepted side, the clock running from connected until every byte was read up to end
 * of stream):
 *
 * - uds: unisock `unix.listen(path)` / `unix.connect(path)`;
 * - tcp: unisock `tcp.listen` / `tcp.connect` on 127.0.0.1;
 * - native: the runtime's own Unix sockets: Node `node:net` with `{ path }`, Deno
 *   `Deno.listen`/`Deno.connect` with `transport: "unix"`, Bun `Bun.listen`/`Bun.connect`
 *   with `{ unix }`.
 *
 * Every round gets a fresh socket file in a temporary directory under /tmp, removed at the
 * end. A warm-up round of each side comes first and is not counted; then the sides take
 * turns, the first one rotating every round. MB = 10^6 bytes; CPU s/GB as in
 * tcp_throughput.ts. Goals: uds/tcp (unisock UDS over unisock TCP) at least 1.5, and
 * unisock/native (unisock UDS over native UDS) at least 0.95. The last line is
 * `uds_vs_tcp RUNTIME VERSION: uds N MB/s, tcp N MB/s, uds/tcp R, native uds N MB/s,
 * unisock/native R`: the MB/s are medians over the rounds, the ratios medians over the
 * rounds of the two sides' MB/s in the same round.
 *
 * @module
 */
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { median, pad, pairedRatio, round1, round3, runMain, runtime, runtimeVersion } from "./common.ts";
import { CHUNK, HOST, measure, MIB, nativeApi, nativeRound, parseStreamOptions, unisockRound } from "./stream_throughput.ts";
import type { Figures, RoundFn, StreamTarget } from "./stream_throughput.ts";

const BENCH = "uds_vs_tcp";
const GOAL_UDS_TCP = 1.5;
const GOAL_NATIVE = 0.95;

type Side = "uds" | "tcp" | "native";
const SIDES: readonly Side[] = ["uds", "tcp", "native"];

function row(label: string, order: string, figures: Partial<Record<Side, Figures>>, note = ""): string {
  const mbps = SIDES.map((side) => pad(figures[side]?.mbps.toFixed(1) ?? "-", 12)).join("");
  const cpu = SIDES.map((side) => pad(figures[side]?.cpuPerGB.toFixed(3) ?? "-", 12)).join("");
  return `${label.padEnd(8)}${order.padEnd(19)}${mbps}${cpu}${note}`;
}

const verdict = (value: number, goal: number): string => `${value.toFixed(2)} (goal >= ${goal}: ${value >= goal ? "met" : "NOT met"})`;

async function main(): Promise<void> {
  const options = parseStreamOptions(BENCH, process.argv.slice(2), SIDES);
  const total = Math.round(options.mib * MIB);
  const print = options.json ? (line: string) => console.error(line) : (line: string) => console.log(line);

  const directory = fs.mkdtempSync("/tmp/unisock-uds-bench-");
  try {
    let files = 0;
    const unixTarget = (): StreamTarget => ({ transport: "unix", path: path.join(directory, `${files++}.sock`) });
    const tcpTarget = (): StreamTarget => ({ transport: "tcp" });
    const rounds: Record<Side, RoundFn> = {
      uds: unisockRound(unixTarget),
      tcp: unisockRound(tcpTarget),
      native: nativeRound(unixTarget),
    };
    const nativeUnix = nativeApi("unix");

    print(
      `${BENCH} on ${runtime} ${runtimeVersion}: ${options.mib} MiB per round, ${CHUNK / 1024} KiB chunks, ` +
        `${options.rounds} rounds of each after a warm-up; uds = unisock unix, tcp = unisock tcp over ${HOST}, ` +
        `native = ${nativeUnix}; socket files in ${directory}`,
    );
    print("MB/s with MB = 10^6 bytes; CPU s/GB = user + system CPU seconds of the whole process per 10^9 bytes");
    print(
      `${"round".padEnd(8)}${"order".padEnd(19)}${SIDES.map((side) => pad(`${side} MB/s`, 12)).join("")}` +
        `${SIDES.map((side) => pad(`${side} CPU`, 12)).join("")}`,
    );

    const results: Record<Side, Figures[]> = { uds: [], tcp: [], native: [] };
    for (let round = 0; round <= options.rounds; round++) {
      // Round 0 is the warm-up; the first side rotates so none always goes first.
      const turn = round % SIDES.length;
      const rotated = [...SIDES.slice(turn), ...SIDES.slice(0, turn)];
      const order = options.only === undefined ? rotated : [options.only];
      const figures: Partial<Record<Side, Figures>> = {};
      for (const side of order) figures[side] = await measure(side, rounds[side], total, options.timeoutMs);
      if (round > 0) for (const side of order) results[side].push(figures[side]!);
      print(row(round === 0 ? "warm-up" : String(round), order.join(","), figures, round === 0 ? "  (not counted)" : ""));
    }

    const ran = options.only === undefined ? SIDES : [options.only];
    const medians: Partial<Record<Side, Figures>> = {};
    for (const side of ran) {
      medians[side] = {
        mbps: median(results[side].map((figures) => figures.mbps)),
        cpuPerGB: median(results[side].map((figures) => figures.cpuPerGB)),
      };
    }
    print(row("median", "", medians));

    const sideJson = (side: Side) => ({
      mbps: round1(medians[side]!.mbps),
      cpuSecondsPerGB: round3(medians[side]!.cpuPerGB),
      rounds: results[side].map((figures) => ({ mbps: round1(figures.mbps), cpuSecondsPerGB: round3(figures.cpuPerGB) })),
    });
    const head = { bench: BENCH, runtime, version: runtimeVersion, reader: options.reader, nativeApi: nativeUnix, bytesPerRound: total, chunkBytes: CHUNK, rounds: options.rounds };

    if (options.only !== undefined) {
      const summary = `${BENCH} ${runtime} ${runtimeVersion}: ${options.only} only, ${medians[options.only]!.mbps.toFixed(0)} MB/s`;
      print(summary);
      if (options.json) console.log(JSON.stringify({ ...head, only: options.only, [options.only]: sideJson(options.only), summary }));
      return;
    }
    const uds = medians.uds!.mbps;
    const tcpMbps = medians.tcp!.mbps;
    const native = medians.native!.mbps;
    // Round by round (the sides of one round ran back to back, so a drift of the machine
    // between rounds cancels out), the median over the rounds.
    const mbpsOf = (side: Side): number[] => results[side].map((figures) => figures.mbps);
    const udsOverTcp = pairedRatio(mbpsOf("uds"), mbpsOf("tcp"));
    const overNative = pairedRatio(mbpsOf("uds"), mbpsOf("native"));
    print(`uds/tcp ${verdict(udsOverTcp, GOAL_UDS_TCP)}; unisock/native ${verdict(overNative, GOAL_NATIVE)}`);
    const summary = `${BENCH} ${runtime} ${runtimeVersion}${options.reader === "readable" ? " (readable)" : ""}: uds ${uds.toFixed(0)} MB/s, tcp ${tcpMbps.toFixed(0)} MB/s, ` +
      `uds/tcp ${udsOverTcp.toFixed(2)}, native uds ${native.toFixed(0)} MB/s, unisock/native ${overNative.toFixed(2)}`;
    print(summary);
    if (options.json) {
      console.log(JSON.stringify({
        ...head,
        units: { mbps: "MB/s, MB = 10^6 bytes, medians", cpuSecondsPerGB: "process CPU seconds per 10^9 bytes, medians" },
        uds: sideJson("uds"),
        tcp: sideJson("tcp"),
        native: sideJson("native"),
        udsOverTcp: round3(udsOverTcp),
        unisockOverNative: round3(overNative),
        goals: { udsOverTcp: GOAL_UDS_TCP, unisockOverNative: GOAL_NATIVE },
        summary,
      }));
    }
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

runMain(BENCH, main);
