#!/usr/bin/env node
// Runs one or more bench files on Node, Deno and Bun in turn (all from this repo's
// node_modules/.bin), streaming their output, then prints each run's final line.
//
//   node bench/run.mjs BENCH [BENCH...] [--runtime node|deno|deno-unstable-net|bun]... [-- ARGS...]
//
//   BENCH            a bench file, e.g. bench/tcp_throughput.ts or just tcp_throughput
//   --runtime NAME   run only this runtime (repeatable; default: node, deno and bun);
//                    deno-unstable-net is Deno with --unstable-net (Deno.listenDatagram)
//   -- ARGS...       passed to every bench, e.g. `-- --mib 256 --rounds 5` or `-- --json`
//
// A run is killed after RUN_TIMEOUT_MS. The exit status is non-zero when any run fails.
// Plain ESM JavaScript without dependencies, like scripts/test.mjs.
//
// Also a module: bench/all.mjs (`npm run bench`) imports the runtimes, their commands and
// spawnRun from here; the command line above only runs when this file is the script.

import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const BIN = path.join(ROOT, "node_modules", ".bin");
export const RUN_TIMEOUT_MS = 15 * 60 * 1000;
export const RUNTIMES = ["node", "deno", "bun"];
/** Runtimes only run when asked for with --runtime. */
export const EXTRA_RUNTIMES = ["deno-unstable-net"];

/** How each runtime runs a TypeScript file. */
export const COMMANDS = {
  node: (file) => [path.join(BIN, "node"), [file]],
  deno: (file) => [path.join(BIN, "deno"), ["run", "-A", file]],
  "deno-unstable-net": (file) => [path.join(BIN, "deno"), ["run", "-A", "--unstable-net", file]],
  bun: (file) => [path.join(BIN, "bun"), [file]],
};

/** The environment of a run: node_modules/.bin first on PATH, no colours unless asked for. */
export const env = { ...process.env, PATH: [BIN, process.env.PATH ?? ""].join(path.delimiter) };
if (env.NO_COLOR === undefined && env.FORCE_COLOR === undefined) env.NO_COLOR = "1";

/** The run in progress, killed (with its process group) on SIGINT, SIGTERM or SIGHUP. */
let current;
let handlingSignals = false;

/** Makes SIGINT, SIGTERM and SIGHUP kill the run in progress, then exit with 130. */
export function handleSignals() {
  if (handlingSignals) return;
  handlingSignals = true;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      if (current) killGroup(current);
      process.exit(130);
    });
  }
}

export function killGroup(child) {
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/**
 * Runs `command args` in the repo root, in a process group of its own, killed (the whole
 * group) after `timeoutMs`. `onStdout`/`onStderr` get each chunk; stderr is inherited
 * when there is no `onStderr`. Resolves to { ok, why, stdout } (`why` = how it failed).
 */
export function spawnRun(command, args, { onStdout, onStderr, timeoutMs = RUN_TIMEOUT_MS, label = command } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", onStderr ? "pipe" : "inherit"],
      detached: true,
    });
    current = child;
    let stdout = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      onStdout?.(chunk);
    });
    if (onStderr) {
      child.stderr.setEncoding("utf8");
      child.stderr.on("data", onStderr);
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      console.error(`bench: killing ${label} after ${timeoutMs / 60000} minutes`);
      killGroup(child);
    }, timeoutMs);
    child.on("error", (error) => console.error(`could not run ${command}: ${error.message}`));
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      const ok = code === 0 && !timedOut;
      const why = timedOut ? "timed out" : signal ? `killed by ${signal}` : `exit code ${code}`;
      resolve({ ok, why, stdout });
    });
  });
}

function usage(message) {
  if (message) console.error(`run.mjs: ${message}`);
  console.error("usage: node bench/run.mjs BENCH [BENCH...] [--runtime node|deno|deno-unstable-net|bun]... [-- ARGS...]");
  process.exit(2);
}

function resolveBench(name) {
  for (const candidate of [name, path.join("bench", name), path.join("bench", `${name}.ts`)]) {
    if (fs.existsSync(path.resolve(ROOT, candidate)) && fs.statSync(path.resolve(ROOT, candidate)).isFile()) {
      return path.relative(ROOT, path.resolve(ROOT, candidate));
    }
  }
  usage(`no bench file ${JSON.stringify(name)}`);
}

async function main() {
  const argv = process.argv.slice(2);
  const dashdash = argv.indexOf("--");
  const own = dashdash === -1 ? argv : argv.slice(0, dashdash);
  const passed = dashdash === -1 ? [] : argv.slice(dashdash + 1);
  const benches = [];
  const runtimes = [];
  for (let i = 0; i < own.length; i++) {
    if (own[i] === "--runtime") {
      const name = own[++i];
      if (!RUNTIMES.includes(name) && !EXTRA_RUNTIMES.includes(name)) usage(`unknown runtime ${JSON.stringify(name)}`);
      runtimes.push(name);
    } else if (own[i].startsWith("-")) usage(`unknown option ${own[i]}`);
    else benches.push(resolveBench(own[i]));
  }
  if (benches.length === 0) usage("no bench given");
  if (runtimes.length === 0) runtimes.push(...RUNTIMES);

  handleSignals();

  /** Runs one bench on one runtime; resolves to { ok, last } with its last stdout line. */
  async function run(runtime, bench) {
    const [command, args] = COMMANDS[runtime](bench);
    const all = [...args, ...passed];
    console.log(`\n$ ${path.relative(ROOT, command)} ${all.join(" ")}`);
    const { ok, why, stdout } = await spawnRun(command, all, {
      onStdout: (chunk) => process.stdout.write(chunk),
      label: runtime,
    });
    const last = stdout.trimEnd().split("\n").at(-1) ?? "";
    return { ok, last: ok ? last : `${path.basename(bench)} ${runtime}: FAILED (${why})` };
  }

  const finals = [];
  for (const bench of benches) {
    for (const runtime of runtimes) finals.push(await run(runtime, bench));
  }
  console.log("");
  for (const { last } of finals) console.log(last);
  process.exit(finals.every((result) => result.ok) ? 0 : 1);
}

if (process.argv[1] !== undefined && fs.realpathSync(path.resolve(process.argv[1])) === fs.realpathSync(fileURLToPath(import.meta.url))) {
  await main();
}
