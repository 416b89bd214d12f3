#!/usr/bin/env node
// `npm run bench`: every benchmark on every runtime, one at a time, then one table of
// ratios against the native APIs (and the other figures with a goal).
//
//   node bench/all.mjs [--runtime NAME]... [--only BENCH]... [--quick] [--markdown] [--quiet] [--out FILE]
//   npm run bench [-- OPTIONS]
//
//   --runtime NAME   run only this runtime (repeatable): node, deno, deno-unstable-net, bun;
//                    default: all four. deno-unstable-net (Deno with --unstable-net, so
//                    Deno.listenDatagram is the native side) only runs udp.ts.
//   --only BENCH     run only this bench (repeatable): tcp_throughput, uds_vs_tcp,
//                    tcp_readable, uds_readable (those two with --reader readable), echo_rtt,
//                    udp, resolve, resolve_encrypted, policy, proxy, proxy_tls, tls, sockets, soak
//                    (also as bench/NAME.ts)
//   --quick          small sizes (see QUICK below): a whole pass takes a couple of minutes
//                    instead of about a quarter of an hour; for a smoke run, not for the README
//   --markdown       print the table as a Markdown table (for the README)
//   --quiet          one line per run instead of streaming each bench's progress
//   --out FILE       where to write the collected JSON (default: bench/results/DATE.json,
//                    copied to bench/results/latest.json)
//
// Each bench runs with --json (its last stdout line is one JSON object; its progress goes
// to stderr and is streamed here, unless --quiet). Runs are one after the other, never in
// parallel, each in a process group of its own killed after RUN_TIMEOUT_MS (bench/run.mjs,
// whose runtimes, commands and spawnRun this file uses). A bench file that does not exist
// is skipped with a note.
//
// Output: the progress goes to stderr; the report goes to stdout: the command line, the
// date, the machine and the runtime versions, then ONE table: a row per metric, a column
// per runtime, and the goal of the row. Its first rows compare unisock with the runtime's
// native API doing the same work on both sides: TCP read, TCP chunks, UDS read, UDS chunks
// (read: the bytes end in the receiver's own reused 64 KiB buffer; chunks: the receiver
// gets chunks it owns), UDP received/s, TLS read and echo RTT p50; the other figures
// follow. A cell with a goal is marked `✓` (goal met) or `✗` (goal missed), e.g. `0.94 ✗`
// (a third decimal where two would hide the verdict: `0.948 ✗` against ≥ 0.95); a row
// without a goal shows the bare figure. `FAILED`:
// that run failed (the notes under the table say how); an empty cell: the bench does not
// run on that runtime; `-`: the run did not report that figure (e.g. Bun-only figures).
// Ratios are unisock over the other side (higher is better) except echo RTT (unisock p50
// over native p50: lower is better). `npm run bench -- --markdown > table.md` gives only
// the report.
//
// Every run's JSON (with the command line, date, machine, versions and the Markdown
// table) is written to bench/results/DATE.json and bench/results/latest.json (or --out),
// so the figures in the README can be traced; bench/results/ is not committed.
//
// Exit status: non-zero when any run failed (a missed goal is a result, not a failure).
// Plain ESM JavaScript without dependencies, runnable by Node 20, like bench/run.mjs.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { BIN, COMMANDS, EXTRA_RUNTIMES, handleSignals, ROOT, RUNTIMES, spawnRun } from "./run.mjs";

/** The table's columns, in order. */
const ALL_RUNTIMES = [...RUNTIMES.slice(0, 2), ...EXTRA_RUNTIMES, ...RUNTIMES.slice(2)];
const COLUMN_NAMES = { node: "node", deno: "deno", "deno-unstable-net": "deno --unstable-net", bun: "bun" };
const RESULTS = path.join(ROOT, "bench", "results");

/**
 * The benches, in the order they run: which runtimes run each (default: node, deno, bun)
 * the options a full run passes (`full`) and those --quick passes instead. A --quick option is only passed when the bench's file
 * mentions it (for benches whose options this file does not know yet).
 */
const BENCHES = [
  // The stream and echo benches swing by ±30% from round to round on a shared 2-vCPU VM:
  // a full run gives their medians more rounds than their own default of 3.
  { name: "tcp_throughput", full: ["--rounds", "9"], quick: ["--mib", "256", "--rounds", "3"] },
  { name: "uds_vs_tcp", full: ["--rounds", "9"], quick: ["--mib", "256", "--rounds", "3"] },
  // The same two benches with both receivers getting chunks they own (unisock and Deno
  // `conn.readable`, Node and Bun 'data' chunks) instead of the bytes in their own reused
  // buffer (unisock `read(buffer)`, Deno `conn.read`, Node and Bun copying each chunk).
  { name: "tcp_readable", file: "tcp_throughput", full: ["--rounds", "9", "--reader", "readable"], quick: ["--mib", "256", "--rounds", "3", "--reader", "readable"] },
  { name: "uds_readable", file: "uds_vs_tcp", full: ["--rounds", "9", "--reader", "readable"], quick: ["--mib", "256", "--rounds", "3", "--reader", "readable"] },
  { name: "echo_rtt", full: ["--rounds", "7"], quick: ["--count", "5000", "--rounds", "3"] },
  { name: "udp", runtimes: ["node", "deno", "deno-unstable-net", "bun"], quick: ["--count", "50000", "--rounds", "3"] },
  { name: "resolve", quick: ["--time", "500", "--cached-time", "300"] },
  // The wire resolver over UDP, DNS over TLS and DNS over HTTPS to one local unbound (tests/peers/unbound.ts).
  { name: "resolve_encrypted", quick: ["--time", "500"] },
  { name: "policy", quick: ["--time", "300"] },
  { name: "proxy", quick: ["--mib", "256", "--rounds", "3"] },
  // `unisock proxy tls://... unix:...` against stunnel4 (a node:tls client in the bench, its own certificate from openssl).
  { name: "proxy_tls", quick: ["--mib", "64", "--rounds", "2"] },
  // TLS throughput and handshakes/s against each runtime's own TLS (its own certificates from openssl).
  { name: "tls", full: ["--rounds", "7"], quick: ["--mib", "64", "--rounds", "2", "--handshakes", "100"] },
  // The Sockets API's connect() streams against unisock's Connection.readable/writable and the native socket, both directions.
  { name: "sockets", full: ["--rounds", "9"], quick: ["--mib", "64", "--rounds", "3"] },
  { name: "soak", quick: ["--seconds", "10"] },
];

// ---------------------------------------------------------------------------
// The table's rows
// ---------------------------------------------------------------------------

const ratio = (value) => value.toFixed(2);
const millions = (value) => `${(value / 1e6).toFixed(1)}M`;
const integer = (value) => String(Math.round(value));
const percent = (value) => `${value > 0 ? "+" : ""}${value.toFixed(1)}%`;

/**
 * A goal: `at least`, `at most` or `below` a value. `from(json)` reads the bench's own
 * goal where its JSON has one; the fixed value is the fallback (and what the benches say).
 */
const atLeast = (value, from) => ({ test: (v, goal) => v >= goal, text: (goal) => `≥ ${goal}`, value, from });
const atMost = (value, from) => ({ test: (v, goal) => v <= goal, text: (goal) => `≤ ${goal}`, value, from });
const below = (value, from, format = String) => ({ test: (v, goal) => v < goal, text: (goal) => `< ${format(goal)}`, value, from });

/**
 * The same-work rows first: unisock over the runtime's native API with both receivers doing
 * the same work. `read`: the bytes end in the receiver's own reused 64 KiB buffer (unisock
 * `read(buffer)`; native Node and Bun copy each 'data' chunk into it, Deno `conn.read`).
 * `chunks`: the receiver gets chunks it owns (unisock and Deno `conn.readable`, Node and
 * Bun 'data' chunks).
 */
const SAME_WORK_ROWS = [
  { bench: "tcp_throughput", label: "TCP read unisock/native", value: (j) => j.ratio, format: ratio, goal: atLeast(0.95) },
  { bench: "tcp_readable", label: "TCP chunks unisock/native", value: (j) => j.ratio, format: ratio, goal: atLeast(0.95) },
  { bench: "uds_vs_tcp", label: "UDS read unisock/native", value: (j) => j.unisockOverNative, format: ratio, goal: atLeast(0.95, (j) => j.goals?.unisockOverNative) },
  { bench: "uds_readable", label: "UDS chunks unisock/native", value: (j) => j.unisockOverNative, format: ratio, goal: atLeast(0.95, (j) => j.goals?.unisockOverNative) },
  { bench: "udp", label: "UDP received/s unisock/native", value: (j) => j.ratio, format: ratio, goal: atLeast(0.95) },
  { bench: "tls", label: "TLS read unisock/native", value: (j) => j.throughput?.ratio, format: ratio, goal: atLeast(0.95, (j) => j.goals?.ratio) },
  { bench: "echo_rtt", label: "echo RTT p50 unisock/native (lower is better)", value: (j) => j.ratio, format: ratio, goal: atMost(1.1, (j) => j.goal) },
];

const ROWS = [
  ...SAME_WORK_ROWS,
  { bench: "uds_vs_tcp", label: "UDS/TCP throughput (unisock), read", value: (j) => j.udsOverTcp, format: ratio, goal: atLeast(1.5, (j) => j.goals?.udsOverTcp) },
  { bench: "uds_readable", label: "UDS/TCP throughput (unisock), chunks", value: (j) => j.udsOverTcp, format: ratio, goal: atLeast(1.5, (j) => j.goals?.udsOverTcp) },
  { bench: "udp", label: "UDP sendMany/send loop (unisock)", value: (j) => j.sendManyOverLoop, format: ratio },
  { bench: "udp", label: "UDP sendMany unisock/native sendMany", value: (j) => j.sendManyOverNative, format: ratio },
  { bench: "resolve", label: "resolver uncached wire/native", value: (j) => j.ratio, format: ratio, goal: atLeast(1) },
  { bench: "resolve", label: "resolver uncached wire/native, 32 at a time", value: (j) => j.concurrent?.ratio, format: ratio, goal: atLeast(1) },
  { bench: "resolve_encrypted", label: "resolver DoT/UDP, 32 at a time", value: (j) => j.dotOverUdp, format: ratio, goal: atLeast(0.5, (j) => j.goal) },
  { bench: "resolve_encrypted", label: "resolver DoH/UDP, 32 at a time", value: (j) => j.dohOverUdp, format: ratio, goal: atLeast(0.5, (j) => j.goal) },
  {
    bench: "resolve",
    label: "resolver cached ops/s",
    value: (j) => j.cached?.opsPerSec,
    format: millions,
    goal: { ...atLeast(2e6, (j) => j.cached?.goal), text: (goal) => `≥ ${millions(goal)}` },
  },
  { bench: "policy", label: "policy ns/check, allowed", value: (j) => j.allowedNs, format: integer, goal: below(1000, (j) => j.goalNs) },
  { bench: "policy", label: "policy ns/check, denied", value: (j) => j.deniedNs, format: integer, goal: below(1000, (j) => j.goalNs) },
  { bench: "proxy", label: "proxy unisock/socat", value: (j) => j.ratio, format: ratio, goal: atLeast(1, (j) => j.goal) },
  { bench: "proxy_tls", label: "TLS proxy unisock/stunnel", value: (j) => j.ratio, format: ratio, goal: atLeast(1, (j) => j.goal) },
  {
    bench: "tls",
    label: "TLS handshakes/s unisock/native",
    value: (j) => j.handshakes?.ratio,
    format: ratio,
    goal: atLeast(0.95, (j) => j.goals?.handshakeRatio),
  },
  { bench: "sockets", label: "Sockets API read sockets/streams", value: (j) => j.read?.socketsOverStreams, format: ratio, goal: atLeast(0.95, (j) => j.goals?.socketsOverStreams) },
  { bench: "sockets", label: "Sockets API write sockets/streams", value: (j) => j.write?.socketsOverStreams, format: ratio, goal: atLeast(0.95, (j) => j.goals?.socketsOverStreams) },
  { bench: "sockets", label: "Sockets API read sockets/native", value: (j) => j.read?.socketsOverNative, format: ratio },
  { bench: "sockets", label: "Sockets API write sockets/native", value: (j) => j.write?.socketsOverNative, format: ratio },
  { bench: "soak", label: "soak connections/s", value: (j) => j.connectionsPerSecond, format: integer },
  { bench: "soak", label: "soak heap growth (samples)", value: (j) => j.growth?.heapPercent, format: percent },
  { bench: "soak", label: "soak heap growth after GC", value: (j) => j.afterGc?.heapPercent, format: percent },
  { bench: "soak", label: "soak RSS growth", value: (j) => j.growth?.rssPercent, format: percent },
  {
    bench: "soak",
    label: "soak descriptors back to the start",
    value: (j) => j.fdsBack,
    format: (v) => (typeof v === "boolean" ? (v ? "yes" : "no") : String(v)),
    goal: { test: (v) => v === true || v === 0, text: () => "yes", value: true },
  },
];

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

function usage(message) {
  if (message) console.error(`all.mjs: ${message}`);
  console.error(
    `usage: node bench/all.mjs [--runtime ${ALL_RUNTIMES.join("|")}]... [--only ${BENCHES.map((b) => b.name).join("|")}]... ` +
      "[--quick] [--markdown] [--quiet] [--out FILE]",
  );
  process.exit(message ? 2 : 0);
}

function parseOptions(argv) {
  const options = { runtimes: [], only: [], quick: false, markdown: false, quiet: false, out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].startsWith("--") && argv[i].includes("=") ? argv[i].split("=", 2) : [argv[i], undefined];
    const value = () => {
      const text = inline ?? argv[++i];
      if (text === undefined) usage(`${flag} needs a value`);
      return text;
    };
    if (flag === "--runtime") {
      const name = value();
      if (!ALL_RUNTIMES.includes(name)) usage(`unknown runtime ${JSON.stringify(name)}`);
      if (!options.runtimes.includes(name)) options.runtimes.push(name);
    } else if (flag === "--only") {
      const text = value();
      const name = path.basename(text).replace(/\.ts$/, "");
      if (!BENCHES.some((bench) => bench.name === name)) usage(`unknown bench ${JSON.stringify(text)}`);
      if (!options.only.includes(name)) options.only.push(name);
    } else if (flag === "--quick") options.quick = true;
    else if (flag === "--markdown") options.markdown = true;
    else if (flag === "--quiet") options.quiet = true;
    else if (flag === "--out") options.out = value();
    else if (flag === "--help" || flag === "-h") usage();
    else usage(`unknown argument ${JSON.stringify(argv[i])}`);
  }
  // In the table's order, whatever the order on the command line.
  options.runtimes = options.runtimes.length === 0 ? ALL_RUNTIMES : ALL_RUNTIMES.filter((name) => options.runtimes.includes(name));
  return options;
}

// ---------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------

/** The version of each runtime binary, e.g. { node: "24.21.0", deno: "2.9.6", bun: "1.4.5" }. */
function runtimeVersions() {
  const versions = {};
  for (const name of RUNTIMES) {
    const result = spawnSync(path.join(BIN, name), ["--version"], { encoding: "utf8" });
    versions[name] = /\d+\.\d+\.\d+\S*/.exec(result.stdout ?? "")?.[0] ?? "unknown";
  }
  return versions;
}

/** A bench file's text and that of the bench files it imports (where shared options live). */
function benchSource(file) {
  const text = fs.readFileSync(file, "utf8");
  const imported = [...text.matchAll(/from "\.\/([\w-]+\.ts)"/g)].map((m) => path.join(path.dirname(file), m[1]));
  return [text, ...imported.filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f, "utf8"))].join("\n");
}

/** The --quick options of a bench that its file (or one it imports) mentions, and notes about the others. */
function quickArgs(bench, source) {
  const args = [];
  const notes = [];
  for (let i = 0; i < bench.quick.length; i++) {
    const flag = bench.quick[i];
    const hasValue = i + 1 < bench.quick.length && !bench.quick[i + 1].startsWith("--");
    const pair = hasValue ? [flag, bench.quick[++i]] : [flag];
    if (new RegExp(`${flag}(?![\\w-])`).test(source)) args.push(...pair);
    else notes.push(`${bench.name}: --quick left out ${pair.join(" ")} (not an option of bench/${bench.file ?? bench.name}.ts)`);
  }
  return { args, notes };
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

/** Runs one bench on one runtime; resolves to the run's record (with the parsed JSON). */
async function runOne(bench, runtime, args, tag, quiet) {
  const file = path.join("bench", `${bench.file ?? bench.name}.ts`);
  const [command, commandArgs] = COMMANDS[runtime](file);
  const all = [...commandArgs, "--json", ...args];
  const shown = `${path.relative(ROOT, command)} ${all.join(" ")}`;
  console.error(`\n${tag} ${bench.name} on ${COLUMN_NAMES[runtime]}: $ ${shown}`);
  let stderrTail = "";
  const started = Date.now();
  const { ok, why, stdout } = await spawnRun(command, all, {
    label: `${bench.name} on ${runtime}`,
    onStderr: (chunk) => {
      if (quiet) stderrTail = (stderrTail + chunk).slice(-4000);
      else process.stderr.write(chunk);
    },
  });
  const ms = Date.now() - started;
  const record = { bench: bench.name, runtime, command: shown, ok, seconds: Math.round(ms / 100) / 10 };
  let failure = ok ? undefined : why;
  if (ok) {
    const last = stdout.trimEnd().split("\n").at(-1) ?? "";
    try {
      const result = JSON.parse(last);
      if (result === null || typeof result !== "object" || Array.isArray(result)) throw new Error("not an object");
      record.result = result;
    } catch {
      failure = "its last stdout line is not a JSON object";
    }
  }
  if (failure !== undefined) {
    record.ok = false;
    record.why = failure;
    if (quiet && stderrTail !== "") process.stderr.write(`${stderrTail.trimEnd().split("\n").slice(-20).join("\n")}\n`);
    if (stdout.trim() !== "") record.stdoutTail = stdout.trimEnd().split("\n").slice(-5).join("\n");
    console.error(`${tag} ${bench.name} on ${COLUMN_NAMES[runtime]}: FAILED (${failure}) after ${seconds(ms)}`);
  } else {
    console.error(`${tag} ${bench.name} on ${COLUMN_NAMES[runtime]}: ${seconds(ms)}: ${record.result.summary ?? "done"}`);
  }
  return record;
}

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

/** The goal of a row: the first successful run's own figure, else the fixed one. */
function goalOf(row, runs) {
  if (row.goal === undefined) return undefined;
  for (const run of runs) {
    if (run.bench !== row.bench || !run.ok) continue;
    const own = row.goal.from?.(run.result);
    if (typeof own === "number") return own;
  }
  return row.goal.value;
}

function cell(row, goal, run) {
  if (run === undefined) return "";
  if (!run.ok) return "FAILED";
  const value = row.value(run.result);
  if (value === undefined || value === null) return "-";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  let text = row.format(value);
  if (row.goal === undefined) return text;
  const met = row.goal.test(value, goal);
  // 0.948 against ≥ 0.95 would read "0.95 ✗": one more digit where rounding hides the verdict.
  if (typeof value === "number" && row.format === ratio && met !== row.goal.test(Number(text), goal)) text = value.toFixed(3);
  return `${text} ${met ? "✓" : "✗"}`;
}

/** The table as rows of cells: the header first. */
function tableCells(rows, runtimes, runs, versions) {
  const runtimeVersion = (runtime) => versions[runtime.startsWith("deno") ? "deno" : runtime];
  const header = ["metric", "goal", ...runtimes.map((runtime) => `${COLUMN_NAMES[runtime]} ${runtimeVersion(runtime)}`)];
  const body = rows.map((row) => {
    const goal = goalOf(row, runs);
    const cells = runtimes.map((runtime) => cell(row, goal, runs.find((run) => run.bench === row.bench && run.runtime === runtime)));
    return [row.label, goal === undefined ? "" : row.goal.text(goal), ...cells];
  });
  return [header, ...body];
}

function plainTable(cells) {
  const widths = cells[0].map((_, column) => Math.max(...cells.map((line) => line[column].length)));
  const line = (texts) => texts.map((text, column) => text.padEnd(widths[column])).join("  ").trimEnd();
  return [line(cells[0]), widths.map((width) => "-".repeat(width)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

function markdownTable(cells) {
  const line = (texts) => `| ${texts.map((text) => text.replaceAll("|", "\\|")).join(" | ")} |`;
  return [line(cells[0]), `|${cells[0].map(() => "---").join("|")}|`, ...cells.slice(1).map(line)].join("\n");
}

const LEGEND = "✓ goal met, ✗ goal missed; FAILED: the run failed; empty: not run on that runtime; -: not reported there. " +
  "Ratios: unisock over the other side, higher is better, except echo RTT (lower is better).";

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

async function main() {
  const argv = process.argv.slice(2);
  const options = parseOptions(argv);
  const started = new Date();
  const command = ["node", "bench/all.mjs", ...argv].join(" ");
  const versions = runtimeVersions();
  const machine = {
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model?.trim() ?? "unknown",
    loadAverage: os.loadavg().map((load) => Math.round(load * 100) / 100),
  };
  handleSignals();

  const notes = [];
  const selected = BENCHES.filter((bench) => options.only.length === 0 || options.only.includes(bench.name));
  const plan = [];
  const present = [];
  for (const bench of selected) {
    const file = path.join(ROOT, "bench", `${bench.file ?? bench.name}.ts`);
    if (!fs.existsSync(file)) {
      notes.push(`${bench.name}: bench/${bench.file ?? bench.name}.ts does not exist, skipped`);
      continue;
    }
    const runtimes = options.runtimes.filter((runtime) => (bench.runtimes ?? RUNTIMES).includes(runtime));
    if (runtimes.length === 0) continue;
    present.push(bench.name);
    let args = bench.full ?? [];
    if (options.quick) {
      const quick = quickArgs(bench, benchSource(file));
      args = quick.args;
      notes.push(...quick.notes);
    }
    for (const runtime of runtimes) plan.push({ bench, runtime, args });
  }
  for (const note of notes) console.error(`note: ${note}`);
  if (plan.length === 0) {
    console.error(`all.mjs: nothing to run (${options.only.length === 0 ? "all benches" : options.only.join(", ")} on ${options.runtimes.join(", ")})`);
    process.exit(2);
  }

  const runs = [];
  for (const [index, { bench, runtime, args }] of plan.entries()) {
    runs.push(await runOne(bench, runtime, args, `[${index + 1}/${plan.length}]`, options.quiet));
  }
  const elapsedMs = Date.now() - started.getTime();

  const rows = ROWS.filter((row) => present.includes(row.bench));
  const columns = options.runtimes.filter((runtime) => plan.some((run) => run.runtime === runtime));
  const cells = tableCells(rows, columns, runs, versions);
  const markdown = markdownTable(cells);
  for (const run of runs.filter((run) => !run.ok)) notes.push(`${run.bench} on ${COLUMN_NAMES[run.runtime]} FAILED: ${run.why} ($ ${run.command})`);

  const outFile = options.out === undefined
    ? path.join(RESULTS, `${started.toISOString().replace(/\.\d+Z$/, "Z").replaceAll(":", "-")}.json`)
    : path.resolve(options.out);
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  const record = {
    command,
    date: started.toISOString(),
    elapsedSeconds: Math.round(elapsedMs / 1000),
    quick: options.quick,
    machine,
    versions,
    runs,
    notes,
    table: markdown,
  };
  fs.writeFileSync(outFile, `${JSON.stringify(record, null, 2)}\n`);
  const written = [outFile];
  if (options.out === undefined) {
    fs.copyFileSync(outFile, path.join(RESULTS, "latest.json"));
    written.push(path.join(RESULTS, "latest.json"));
  }
  const shown = (file) => (file.startsWith(`${process.cwd()}${path.sep}`) ? path.relative(process.cwd(), file) : file);

  const header = [
    `$ ${command}`,
    `${started.toISOString()}, ${Math.round(elapsedMs / 1000)} s${options.quick ? ", --quick (small sizes: not for the README)" : ""}`,
    `runtimes: node ${versions.node}, deno ${versions.deno}, bun ${versions.bun}`,
    `machine: ${machine.platform}, ${machine.cpus} CPUs (${machine.cpuModel}), load average at the start ${machine.loadAverage.join(" ")}`,
  ];
  const out = [""];
  if (options.markdown) {
    out.push(...header.map((line) => `${line.replace(/^\$ (.*)$/, "`$1`")}  `), "", markdown, "", LEGEND);
  } else {
    out.push(...header, "", plainTable(cells), "", LEGEND);
  }
  if (notes.length > 0) out.push("", ...notes.map((note) => `note: ${note}`));
  out.push("", `all runs' JSON: ${written.map(shown).join(", ")}`);
  console.log(out.join("\n"));
  process.exitCode = runs.every((run) => run.ok) ? 0 : 1;
}

await main();
