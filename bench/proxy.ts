/**
 * `unisock proxy` against socat, as a TCP front for a Unix socket: the same path, the same
 * client and backend, only the proxy process differs.
 *
 *   node bench/proxy.ts [options]
 *   deno run -A bench/proxy.ts [options]
 *   bun bench/proxy.ts [options]
 *
 * Options (each also from the environment):
 *   --mib N        MiB sent per round (BENCH_MIB, default 1024)
 *   --rounds N     counted rounds of each side (BENCH_ROUNDS, default 3)
 *   --timeout S    seconds a round may take before the run fails (BENCH_TIMEOUT_S, default 60)
 *   --json         print one JSON line with the figures instead of the table (BENCH_JSON=1);
 *                  the table then goes to stderr
 *   --only SIDE    run only `unisock` or `socat` (no ratio)
 *
 * Two proxies, each started once and left running for every round:
 *
 * - unisock: `unisock proxy tcp://127.0.0.1:0 unix:PATH` (cli/mod.ts), run by the runtime
 *   that runs the bench (Node `node cli/mod.ts`, Deno `deno run -A cli/mod.ts`, Bun
 *   `bun cli/mod.ts`);
 * - socat: `socat TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr,fork UNIX-CONNECT:PATH` with
 *   its default options (one process forked per connection, 8 KiB buffer). socat is a
 *   Debian package (.ci/run installs it); without it the bench fails and says so.
 *
 * The backend is a unisock `unix.listen` on PATH in this process that reads each
 * connection into a reused 64 KiB buffer and counts the bytes; the client is a unisock
 * `tcp.connect` in this process that sends the whole amount in 64 KiB writes, then
 * half-closes. A round is one fresh connection through the proxy; the clock runs from the
 * client's connect until the backend has read every byte up to end of stream. A warm-up
 * round of each side comes first and is not counted; the sides then alternate, swapping
 * which goes first every round. MB = 10^6 bytes. The table also gives the machine's CPU
 * seconds per GB (busy time of every CPU, from /proc/stat: the client, the backend, the
 * proxy and the kernel's work for them, and anything else running). The last line is
 * `proxy RUNTIME VERSION: unisock N MB/s, socat N MB/s, ratio R` (MB/s: medians over the
 * rounds; ratio: the median over the rounds of the two sides in the same round); the goal
 * is a ratio of at least 1.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { tcp, unix } from "../mod.ts";
import type { Listener } from "../mod.ts";
import { median, pad, pairedRatio, round1, round3, runMain, runtime, runtimeVersion } from "./common.ts";
import type { Sample } from "./common.ts";
import { CHUNK, HOST, measure, MIB, parseStreamOptions, transfer } from "./stream_throughput.ts";
import type { Figures, RoundFn } from "./stream_throughput.ts";

const BENCH = "proxy";
const GOAL = 1.0;
const CLI = fileURLToPath(new URL("../cli/mod.ts", import.meta.url));

type Side = "unisock" | "socat";
const SIDES: readonly Side[] = ["unisock", "socat"];


/** Busy CPU time of the whole machine, in ms (the first line of /proc/stat, in USER_HZ = 100). */
function machineBusyMs(): number {
  const fields = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return (user + nice + system + irq + softirq + steal) * 10;
}

function machineClock(): Sample {
  return { wallMs: performance.now(), cpuMs: machineBusyMs() };
}

/** A running proxy: the port it listens on, and how to stop it. */
interface Proxy {
  port: number;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, "SIGTERM");
    await exited(child);
  };
}

/** The unisock CLI on this runtime, with its stderr collected. */
async function startUnisock(backendPath: string): Promise<Proxy> {
  const runner = runtime === "deno" ? ["run", "-A", "--no-lock", CLI] : [CLI];
  const child = spawn(process.execPath, [...runner, "proxy", `tcp://${HOST}:0`, `unix:${backendPath}`], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const started = performance.now();
  for (;;) {
    const match = /proxying tcp:\/\/[\d.]+:(\d+)/.exec(stderr);
    if (match !== null) return { port: Number(match[1]), stop: stopper(child) };
    if (child.exitCode !== null || performance.now() - started > 20_000) {
      child.kill("SIGKILL");
      throw new Error(`unisock proxy did not start: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** socat on a free port; ready once a probe connection has gone through to the backend. */
async function startSocat(backendPath: string, backend: Listener): Promise<Proxy> {
  if (spawnSync("socat", ["-V"]).status !== 0) {
    throw new Error("socat is missing: apt-get install socat (.ci/run installs it)");
  }
  const free = await tcp.listen({ hostname: HOST, port: 0 });
  const port = free.localAddress.port;
  free.close();
  const child = spawn("socat", [`TCP-LISTEN:${port},bind=${HOST},reuseaddr,fork`, `UNIX-CONNECT:${backendPath}`], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const started = performance.now();
  for (;;) {
    try {
      const probe = await tcp.connect({ hostname: HOST, port });
      const accepted = await backend.accept();
      probe.close();
      accepted.close();
      return { port, stop: stopper(child) };
    } catch (error) {
      if (child.exitCode !== null || performance.now() - started > 20_000) {
        child.kill("SIGKILL");
        throw new Error("socat did not start", { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** One round through `proxy`: a fresh client connection, the whole amount, counted by the backend. */
function proxyRound(proxy: () => Proxy, backend: Listener): RoundFn {
  return async (total, defer) => {
    const accepted = backend.accept();
    const start = machineClock();
    const client = await tcp.connect({ hostname: HOST, port: proxy().port });
    defer(() => client.close());
    const server = accepted.then((conn) => {
      defer(() => conn.close());
      return conn;
    });
    const received = await transfer(server, client, total);
    const end = machineClock();
    if (received !== total) throw new Error(`the backend received ${received} bytes, the client sent ${total}`);
    return { wallMs: end.wallMs - start.wallMs, cpuMs: end.cpuMs - start.cpuMs };
  };
}

function row(label: string, order: string, figures: Partial<Record<Side, Figures>>, note = ""): string {
  const mbps = SIDES.map((side) => pad(figures[side]?.mbps.toFixed(1) ?? "-", 13)).join("");
  const cpu = SIDES.map((side) => pad(figures[side]?.cpuPerGB.toFixed(3) ?? "-", 13)).join("");
  return `${label.padEnd(8)}${order.padEnd(16)}${mbps}${cpu}${note}`;
}

async function main(): Promise<void> {
  const options = parseStreamOptions(BENCH, process.argv.slice(2), SIDES);
  const total = Math.round(options.mib * MIB);
  const print = options.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  const directory = fs.mkdtempSync("/tmp/unisock-proxy-bench-");
  const backendPath = path.join(directory, "backend.sock");
  const backend = await unix.listen(backendPath);
  const proxies: Partial<Record<Side, Proxy>> = {};
  try {
    const ran = options.only === undefined ? SIDES : [options.only];
    if (ran.includes("socat")) proxies.socat = await startSocat(backendPath, backend);
    if (ran.includes("unisock")) proxies.unisock = await startUnisock(backendPath);
    const rounds: Record<Side, RoundFn> = {
      unisock: proxyRound(() => proxies.unisock!, backend),
      socat: proxyRound(() => proxies.socat!, backend),
    };
    print(
      `${BENCH} on ${runtime} ${runtimeVersion}: ${options.mib} MiB per round, ${CHUNK / 1024} KiB writes, ` +
        `${options.rounds} rounds of each after a warm-up; TCP ${HOST} -> proxy -> unix ${backendPath}; ` +
        `unisock = \`${runtime === "deno" ? "deno run -A" : runtime} cli/mod.ts proxy\`, socat = \`socat TCP-LISTEN:PORT,bind=${HOST},reuseaddr,fork UNIX-CONNECT:PATH\``,
    );
    print("MB/s with MB = 10^6 bytes; CPU s/GB = busy CPU seconds of the whole machine (/proc/stat) per 10^9 bytes");
    print(`${"round".padEnd(8)}${"order".padEnd(16)}${SIDES.map((side) => pad(`${side} MB/s`, 13)).join("")}` +
      `${SIDES.map((side) => pad(`${side} CPU`, 13)).join("")}`);

    const results: Record<Side, Figures[]> = { unisock: [], socat: [] };
    for (let round = 0; round <= options.rounds; round++) {
      const order = round % 2 === 0 ? [...ran] : [...ran].reverse();
      const figures: Partial<Record<Side, Figures>> = {};
      for (const side of order) figures[side] = await measure(side, rounds[side], total, options.timeoutMs);
      if (round > 0) for (const side of order) results[side].push(figures[side]!);
      print(row(round === 0 ? "warm-up" : String(round), order.join(","), figures, round === 0 ? "  (not counted)" : ""));
    }
    const medians: Partial<Record<Side, Figures>> = {};
    for (const side of ran) {
      medians[side] = {
        mbps: median(results[side].map((f) => f.mbps)),
        cpuPerGB: median(results[side].map((f) => f.cpuPerGB)),
      };
    }
    print(row("median", "", medians));
    const sideJson = (side: Side) => ({
      mbps: round1(medians[side]!.mbps),
      cpuSecondsPerGB: round3(medians[side]!.cpuPerGB),
      rounds: results[side].map((f) => ({ mbps: round1(f.mbps), cpuSecondsPerGB: round3(f.cpuPerGB) })),
    });
    const head = { bench: BENCH, runtime, version: runtimeVersion, bytesPerRound: total, chunkBytes: CHUNK, rounds: options.rounds };
    if (options.only !== undefined) {
      const summary = `${BENCH} ${runtime} ${runtimeVersion}: ${options.only} only, ${medians[options.only]!.mbps.toFixed(0)} MB/s`;
      print(summary);
      if (options.json) console.log(JSON.stringify({ ...head, only: options.only, [options.only]: sideJson(options.only), summary }));
      return;
    }
    // Round by round (both sides of a round ran back to back), the median over the rounds.
    const ratio = pairedRatio(results.unisock.map((f) => f.mbps), results.socat.map((f) => f.mbps));
    print(`ratio unisock/socat ${ratio.toFixed(2)} (goal >= ${GOAL}: ${ratio >= GOAL ? "met" : "NOT met"})`);
    const summary = `${BENCH} ${runtime} ${runtimeVersion}: unisock ${medians.unisock!.mbps.toFixed(0)} MB/s, ` +
      `socat ${medians.socat!.mbps.toFixed(0)} MB/s, ratio ${ratio.toFixed(2)}`;
    print(summary);
    if (options.json) {
      console.log(JSON.stringify({ ...head, unisock: sideJson("unisock"), socat: sideJson("socat"), ratio: round3(ratio), goal: GOAL, summary }));
    }
  } finally {
    await Promise.all(Object.values(proxies).map((proxy) => proxy.stop()));
    backend.close();
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

runMain(BENCH, main);
