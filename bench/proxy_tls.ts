/**
 * `unisock proxy tls://... unix:...` against stunnel, as a TLS front for a Unix socket: the
 * same path, the same client and backend, only the proxy process differs.
 *
 *   node bench/proxy_tls.ts [options]
 *   deno run -A bench/proxy_tls.ts [options]
 *   bun bench/proxy_tls.ts [options]
 *
 * Options (each also from the environment):
 *   --mib N        MiB sent per round (BENCH_MIB, default 1024)
 *   --rounds N     counted rounds of each side (BENCH_ROUNDS, default 3)
 *   --timeout S    seconds a round may take before the run fails (BENCH_TIMEOUT_S, default 60)
 *   --json         print one JSON line with the figures instead of the table (BENCH_JSON=1);
 *                  the table then goes to stderr
 *   --only SIDE    run only `unisock` or `stunnel` (no ratio)
 *
 * The certificate is made at the start by the `openssl` command line (a self-signed EC P-256
 * certificate for DNS:localhost and IP:127.0.0.1) in a fresh temp dir, which also holds the
 * stunnel configuration and the backend's socket; the dir is removed at the end.
 *
 * Two proxies, each started once and left running for every round, both stopped (SIGTERM,
 * then SIGKILL if need be) at the end, whatever happened:
 *
 * - unisock: `unisock proxy tls://127.0.0.1:0 unix:PATH --cert C --key K` (cli/mod.ts), run
 *   by the runtime that runs the bench (Node `node cli/mod.ts`, Deno `deno run -A
 *   cli/mod.ts`, Bun `bun cli/mod.ts`);
 * - stunnel: `stunnel4 CONFIG` (Debian's stunnel4 package; scripts/peers.mjs installs it)
 *   in the foreground with one service, `accept = 127.0.0.1:PORT`, `connect = PATH`, the
 *   same cert and key, and otherwise its defaults (one thread per connection, 16 KiB
 *   buffers). Without it the bench fails and says so.
 *
 * Each proxy is ready once a probe connection has gone through it to the backend (bounded
 * wait of 20 s); the probe also tells what the client and that proxy negotiated (printed).
 *
 * The backend is a unisock `unix.listen` on PATH in this process that reads each
 * connection into a reused 64 KiB buffer and counts the bytes. The client is the same for
 * both: `node:tls` of the runtime running the bench, in this process (`tls.connect` to
 * 127.0.0.1 with the server name `localhost`, trusting only the certificate), which writes
 * the whole amount in 64 KiB writes, each from the previous write's callback (as bench/tls.ts
 * does for node:tls), then `end()`s (close_notify and FIN). A round is one fresh connection
 * through the proxy; the clock runs from the client's connect (TLS handshake included) until
 * the backend has read every byte up to end of stream. A warm-up round of each side comes
 * first and is not counted; the sides then alternate, swapping which goes first every
 * round. MB = 10^6 bytes. The table also gives the machine's CPU seconds per GB (busy time
 * of every CPU, from /proc/stat: client, backend, proxy, the kernel's work for them, and
 * anything else running). The last line is `proxy_tls RUNTIME VERSION: unisock N MB/s,
 * stunnel N MB/s, ratio R` (MB/s: medians over the rounds; ratio: the median over the rounds of
 * the two sides in the same round); the goal is a ratio of at least 1.
 *
 * @module
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { tcp, unix } from "../mod.ts";
import type { Connection, Listener } from "../mod.ts";
import { median, pad, pairedRatio, round1, round3, runMain, runtime, runtimeVersion } from "./common.ts";
import type { Sample } from "./common.ts";
import { CHUNK, HOST, measure, MIB, parseStreamOptions } from "./stream_throughput.ts";
import type { Defer, Figures, RoundFn } from "./stream_throughput.ts";

const BENCH = "proxy_tls";
const GOAL = 1.0;
const CLI = fileURLToPath(new URL("../cli/mod.ts", import.meta.url));
const SERVER_NAME = "localhost";
const READY_MS = 20_000;

type Side = "unisock" | "stunnel";
const SIDES: readonly Side[] = ["unisock", "stunnel"];

/** The bytes sent, never modified, so every write may reuse it. */
const CHUNK_BYTES = new Uint8Array(CHUNK).map((_, i) => i & 0xff);

/** Busy CPU time of the whole machine, in ms (the first line of /proc/stat, in USER_HZ = 100). */
function machineBusyMs(): number {
  const fields = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return (user + nice + system + irq + softirq + steal) * 10;
}

function machineClock(): Sample {
  return { wallMs: performance.now(), cpuMs: machineBusyMs() };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Files in the run's temp dir. */
interface Files {
  dir: string;
  cert: string;
  key: string;
  backend: string;
}

/** A self-signed certificate for localhost and 127.0.0.1, made with `openssl`. */
function makeCertificate(files: Files): void {
  try {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc", "-days", "2",
      "-subj", `/CN=${SERVER_NAME}`, "-addext", `subjectAltName=DNS:${SERVER_NAME},IP:${HOST}`,
      "-keyout", files.key, "-out", files.cert,
    ], { stdio: ["ignore", "ignore", "pipe"], timeout: 15_000 });
  } catch (error) {
    throw new Error("openssl req failed (is the openssl command installed?)", { cause: error });
  }
}

/** A running proxy: the port it listens on, what the probe negotiated, and how to stop it. */
interface Proxy {
  port: number;
  session: string;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

/** SIGTERM, then SIGKILL after 5 s if it has not gone. */
function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const gone = await Promise.race([exited(child).then(() => true), sleep(5000).then(() => false)]);
    if (!gone) {
      child.kill("SIGKILL");
      await exited(child);
    }
  };
}

/** A `node:tls` client connection to the proxy, once its handshake (with verification) is done. */
function connectClient(port: number, ca: string, defer: Defer): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: HOST, port, servername: SERVER_NAME, ca });
    defer(() => socket.destroy());
    socket.once("secureConnect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Writes `total` bytes in 64 KiB writes, each from the previous one's callback, then ends. */
function send(socket: tls.TLSSocket, total: number): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    let remaining = total;
    const next = (error?: Error | null): void => {
      if (error) return reject(error);
      if (remaining === 0) {
        socket.end(() => resolve());
        return;
      }
      const size = Math.min(remaining, CHUNK);
      remaining -= size;
      socket.write(size === CHUNK ? CHUNK_BYTES : CHUNK_BYTES.subarray(0, size), next);
    };
    next();
  });
}

/** Reads a backend connection to end of stream into a reused 64 KiB buffer; the bytes read. */
async function sink(conn: Connection): Promise<number> {
  const buffer = new Uint8Array(CHUNK);
  let received = 0;
  let count: number | null;
  while ((count = await conn.read(buffer)) !== null) received += count;
  return received;
}

/** One connection of `total` bytes through the proxy at `port`, counted by the backend. */
async function through(port: number, ca: string, backend: Listener, total: number, defer: Defer): Promise<{ received: number; session: string }> {
  const client = await connectClient(port, ca, defer);
  // Only now, so that a probe that fails before its handshake leaves no accept pending
  // (the proxy connects to the backend after the handshake; the listener queues it).
  const accepted = backend.accept().then((conn) => {
    defer(() => conn.close());
    return conn;
  });
  const session = `${client.getProtocol()} ${client.getCipher().standardName ?? client.getCipher().name}`;
  const [received] = await Promise.all([accepted.then(sink), send(client, total)]);
  return { received, session };
}

/** Waits (bounded) until a probe of one byte has gone through the proxy to the backend. */
async function ready(name: string, child: ChildProcess, port: () => number | undefined, ca: string, backend: Listener, log: () => string): Promise<Proxy> {
  const started = performance.now();
  let lastError: unknown;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null || performance.now() - started > READY_MS) {
      child.kill("SIGKILL");
      await exited(child);
      throw new Error(`${name} did not start within ${READY_MS / 1000} s: ${log().trim()}`, { cause: lastError });
    }
    const known = port();
    if (known !== undefined) {
      const cleanups: (() => void)[] = [];
      try {
        const probe = await Promise.race([
          through(known, ca, backend, 1, (cleanup) => cleanups.push(cleanup)),
          sleep(2000).then(() => Promise.reject(new Error("probe timed out"))),
        ]);
        if (probe.received !== 1) throw new Error(`the probe's byte did not arrive (${probe.received})`);
        return { port: known, session: probe.session, stop: stopper(child) };
      } catch (error) {
        lastError = error;
      } finally {
        for (const cleanup of cleanups.reverse()) cleanup();
      }
    }
    await sleep(50);
  }
}

/** The unisock CLI on this runtime, with its stderr collected. */
function startUnisock(files: Files, ca: string, backend: Listener): Promise<Proxy> {
  const runner = runtime === "deno" ? ["run", "-A", "--no-lock", CLI] : [CLI];
  const child = spawn(process.execPath, [
    ...runner, "proxy", `tls://${HOST}:0`, `unix:${files.backend}`, "--cert", files.cert, "--key", files.key,
  ], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (stderr = (stderr + text).slice(-8000)));
  const port = () => {
    const match = /proxying tls:\/\/[\d.]+:(\d+)/.exec(stderr);
    return match === null ? undefined : Number(match[1]);
  };
  return ready("unisock proxy", child, port, ca, backend, () => stderr);
}

/** The stunnel binary: `stunnel4` (Debian) or `stunnel`. */
function stunnelCommand(): string {
  for (const command of ["stunnel4", "stunnel"]) {
    if (spawnSync(command, ["-version"], { stdio: "ignore" }).error === undefined) return command;
  }
  throw new Error("stunnel is missing: apt-get install stunnel4 (node scripts/peers.mjs installs it as root)");
}

/** stunnel in the foreground on a free port, with a config file in the temp dir. */
async function startStunnel(files: Files, ca: string, backend: Listener): Promise<Proxy> {
  const command = stunnelCommand();
  const free = await tcp.listen({ hostname: HOST, port: 0 });
  const port = free.localAddress.port;
  free.close();
  const config = path.join(files.dir, "stunnel.conf");
  fs.writeFileSync(config, [
    "foreground = yes",
    "pid =",
    "syslog = no",
    "debug = notice",
    "[unisock-bench]",
    `accept = ${HOST}:${port}`,
    `connect = ${files.backend}`,
    `cert = ${files.cert}`,
    `key = ${files.key}`,
    "",
  ].join("\n"));
  const child = spawn(command, [config], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (stderr = (stderr + text).slice(-8000)));
  return ready(command, child, () => port, ca, backend, () => stderr);
}

/** One round through `proxy`: a fresh client connection, the whole amount, counted by the backend. */
function proxyRound(proxy: () => Proxy, ca: string, backend: Listener): RoundFn {
  return async (total, defer) => {
    const start = machineClock();
    const { received } = await through(proxy().port, ca, backend, total, defer);
    const end = machineClock();
    if (received !== total) throw new Error(`the backend received ${received} bytes, the client sent ${total}`);
    return { wallMs: end.wallMs - start.wallMs, cpuMs: end.cpuMs - start.cpuMs };
  };
}

function row(label: string, order: string, figures: Partial<Record<Side, Figures>>, note = ""): string {
  const mbps = SIDES.map((side) => pad(figures[side]?.mbps.toFixed(1) ?? "-", 14)).join("");
  const cpu = SIDES.map((side) => pad(figures[side]?.cpuPerGB.toFixed(3) ?? "-", 14)).join("");
  return `${label.padEnd(8)}${order.padEnd(16)}${mbps}${cpu}${note}`;
}

async function main(): Promise<void> {
  const options = parseStreamOptions(BENCH, process.argv.slice(2), SIDES);
  const total = Math.round(options.mib * MIB);
  const print = options.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  const dir = fs.mkdtempSync("/tmp/unisock-proxy-tls-bench-");
  const files: Files = { dir, cert: path.join(dir, "cert.pem"), key: path.join(dir, "key.pem"), backend: path.join(dir, "backend.sock") };
  const proxies: Partial<Record<Side, Proxy>> = {};
  let backend: Listener | undefined;
  try {
    makeCertificate(files);
    const ca = fs.readFileSync(files.cert, "utf8");
    backend = await unix.listen(files.backend);
    const ran = options.only === undefined ? SIDES : [options.only];
    if (ran.includes("stunnel")) proxies.stunnel = await startStunnel(files, ca, backend);
    if (ran.includes("unisock")) proxies.unisock = await startUnisock(files, ca, backend);
    const rounds: Record<Side, RoundFn> = {
      unisock: proxyRound(() => proxies.unisock!, ca, backend),
      stunnel: proxyRound(() => proxies.stunnel!, ca, backend),
    };
    print(
      `${BENCH} on ${runtime} ${runtimeVersion}: ${options.mib} MiB per round, ${CHUNK / 1024} KiB writes, ` +
        `${options.rounds} rounds of each after a warm-up; node:tls client -> TLS ${HOST} -> proxy -> unix ${files.backend}; ` +
        `unisock = \`${runtime === "deno" ? "deno run -A" : runtime} cli/mod.ts proxy tls://${HOST}:0 unix:PATH --cert C --key K\`, ` +
        `stunnel = \`${ran.includes("stunnel") ? stunnelCommand() : "stunnel4"} CONFIG\` (foreground, accept = ${HOST}:PORT, connect = PATH)`,
    );
    print(`negotiated: ${ran.map((side) => `${side} ${proxies[side]!.session}`).join(", ")}`);
    print("MB/s with MB = 10^6 bytes; CPU s/GB = busy CPU seconds of the whole machine (/proc/stat) per 10^9 bytes");
    print(`${"round".padEnd(8)}${"order".padEnd(16)}${SIDES.map((side) => pad(`${side} MB/s`, 14)).join("")}` +
      `${SIDES.map((side) => pad(`${side} CPU`, 14)).join("")}`);

    const results: Record<Side, Figures[]> = { unisock: [], stunnel: [] };
    for (let round = 0; round <= options.rounds; round++) {
      const order = round % 2 === 0 ? [...ran] : [...ran].reverse();
      const figures: Partial<Record<Side, Figures>> = {};
      for (const side of order) figures[side] = await measure(side, rounds[side], total, options.timeoutMs);
      if (round > 0) for (const side of order) results[side].push(figures[side]!);
      print(row(round === 0 ? "warm-up" : String(round), order.join(","), figures, round === 0 ? "  (not counted)" : ""));
    }
    const medians: Partial<Record<Side, Figures>> = {};
    for (const side of ran) {
      medians[side] = { mbps: median(results[side].map((f) => f.mbps)), cpuPerGB: median(results[side].map((f) => f.cpuPerGB)) };
    }
    print(row("median", "", medians));
    const sideJson = (side: Side) => ({
      mbps: round1(medians[side]!.mbps),
      cpuSecondsPerGB: round3(medians[side]!.cpuPerGB),
      session: proxies[side]!.session,
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
    const ratio = pairedRatio(results.unisock.map((f) => f.mbps), results.stunnel.map((f) => f.mbps));
    print(`ratio unisock/stunnel ${ratio.toFixed(2)} (goal >= ${GOAL}: ${ratio >= GOAL ? "met" : "NOT met"})`);
    const summary = `${BENCH} ${runtime} ${runtimeVersion}: unisock ${medians.unisock!.mbps.toFixed(0)} MB/s, ` +
      `stunnel ${medians.stunnel!.mbps.toFixed(0)} MB/s, ratio ${ratio.toFixed(2)}`;
    print(summary);
    if (options.json) {
      console.log(JSON.stringify({ ...head, unisock: sideJson("unisock"), stunnel: sideJson("stunnel"), ratio: round3(ratio), goal: GOAL, summary }));
    }
  } finally {
    await Promise.all(Object.values(proxies).map((proxy) => proxy.stop()));
    backend?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

runMain(BENCH, main);
