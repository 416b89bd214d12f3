#!/usr/bin/env node
// The project's one test command (`npm test`): the tests' system peers (installed
// with apt-get when missing, as root: scripts/peers.mjs), type checks, then the test suite
// under tests/ on Node, Deno and Bun, then the npm package's smoke test (build,
// pack, install the tarball, use it on every runtime: scripts/smoke/run.mjs), with
// one summary line per runtime and for the smoke test, and a final
// `N passed, N failed` line.
//
// Plain ESM JavaScript with no dependencies, so that any Node from 20 on runs it;
// every tool it starts comes from node_modules/.bin of this repository.
//
// Usage:
//   node scripts/test.mjs [--runtime node|deno|bun]... [--no-check | --check-only]
//                         [--smoke | --no-smoke] [-- FILE|DIR|GLOB...]
//
//   --runtime NAME   run only this runtime (repeatable; default: all three)
//   --no-check       skip the type checks (tsc, deno check, deno lint, ...)
//   --check-only     run only the type checks (`npm run check`)
//   --smoke          run the package smoke test even with --runtime or test paths
//   --no-smoke       skip it (it runs by default in a full run: no --runtime, no paths)
//   -- ARGS...       test files, directories or globs (relative to the repo root)
//                    instead of the default tests/**/*_test.ts
//
// Exit status is non-zero when a type check fails, a runner exits non-zero, a
// runner reports failed tests, a runner's summary cannot be read, a runtime ran no
// test at all, a runtime's run exceeds RUN_TIMEOUT_MS, or a smoke step fails.

import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { ensurePeers } from "./peers.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(ROOT, "node_modules", ".bin");
const bin = (name) => path.join(BIN, name);

/** A whole runtime's run is killed after this long and counted as failed. */
const RUN_TIMEOUT_MS = 20 * 60 * 1000;

/** Per-test timeout for the runners that have one (Bun's default is only 5 s). */
const TEST_TIMEOUT_MS = 120_000;

/** Where the suite lives, and what a test file is called. */
const DEFAULT_TEST_DIR = "tests";
const TEST_FILE = /_test\.ts$/;

/**
 * Loaded before every test file on every runtime: fails a file that leaves sockets,
 * pipes or (Node, Deno) event-loop resources open, as Deno's sanitizers would for
 * `Deno.test` (they do not apply to `node:test` tests). See tests/leak_guard.ts.
 */
const LEAK_GUARD = "./tests/leak_guard.ts";

// ---------------------------------------------------------------------------
// Runner flags. Add runtime flags here (e.g. "--unstable-net" for Deno).
// ---------------------------------------------------------------------------

const NODE_TEST_FLAGS = [
  "--test",
  // Always the spec reporter: its closing `ℹ pass N` lines are what we parse.
  "--test-reporter=spec",
  "--test-reporter-destination=stdout",
  // One test file at a time. Each file still gets its own process, but the files
  // open sockets, bind ports and spawn processes, so running them side by side
  // only adds flakiness; Deno and Bun run files one after another too. (Node's
  // default is availableParallelism() - 1, which is 1 on a 2-core machine anyway,
  // so this mostly makes bigger machines behave like CI.)
  "--test-concurrency=1",
  // A hung test fails on its own instead of hanging the whole run.
  `--test-timeout=${TEST_TIMEOUT_MS}`,
  // No --test-force-exit: it can end the process before the reporter has passed the
  // last results on, so they go uncounted. The leak guard fails a file that leaves a
  // handle open, and ends its process after the failure is reported.
  "--import",
  LEAK_GUARD,
];

const DENO_TEST_FLAGS = [
  "-A",
  // Types are checked once, by `deno check`, before the tests; skipping it here
  // means a type error does not also stop Deno's tests from running (Node and Bun
  // strip types without checking them).
  "--no-check",
  "--preload",
  LEAK_GUARD,
  // Add unstable flags here when the Deno driver needs them, e.g. "--unstable-net".
];

const BUN_TEST_FLAGS = [
  `--timeout=${TEST_TIMEOUT_MS}`,
  // A fresh global object per test file, so a leaked handle or module state in
  // one file cannot affect the next (Node gives each file its own process).
  "--isolate",
  "--preload",
  LEAK_GUARD,
];

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

// "deno-unstable-net" runs the datagram tests (UDP, the wire resolver, Unix datagrams) a
// second time on Deno with --unstable-net, where the Deno driver uses Deno.listenDatagram
// instead of Deno's node:dgram (and has Unix datagram sockets at all): both paths are tested.
const RUNTIMES = ["node", "deno", "deno-unstable-net", "bun"];
const DATAGRAM_TESTS = /(^|\/)(udp|wire|unix_datagram)[^/]*_test\.ts$/;
const binaryOf = (runtime) => (runtime.startsWith("deno") ? "deno" : runtime);

function usage(message) {
  if (message) console.error(`test.mjs: ${message}`);
  console.error(
    "usage: node scripts/test.mjs [--runtime node|deno|bun]... [--no-check | --check-only] [--smoke | --no-smoke] [-- FILE|DIR|GLOB...]",
  );
  process.exit(2);
}

function parseArgs(argv) {
  const options = { runtimes: [], check: true, checkOnly: false, paths: [], smoke: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      options.paths.push(...argv.slice(i + 1));
      break;
    } else if (arg === "--runtime" || arg.startsWith("--runtime=")) {
      const value = arg === "--runtime" ? argv[++i] : arg.slice("--runtime=".length);
      if (value === undefined) usage("--runtime needs a value");
      for (const name of value.split(",")) {
        if (!RUNTIMES.includes(name)) usage(`unknown runtime ${JSON.stringify(name)}`);
        if (!options.runtimes.includes(name)) options.runtimes.push(name);
      }
    } else if (arg === "--no-check") {
      options.check = false;
    } else if (arg === "--check-only") {
      options.checkOnly = true;
    } else if (arg === "--smoke" || arg === "--no-smoke") {
      options.smoke = arg === "--smoke";
    } else if (arg === "-h" || arg === "--help") {
      usage();
    } else {
      usage(`unknown argument ${JSON.stringify(arg)} (put test paths after --)`);
    }
  }
  if (options.checkOnly && !options.check) usage("--check-only and --no-check exclude each other");
  if (options.checkOnly && options.smoke) usage("--check-only and --smoke exclude each other");
  // The smoke test belongs to a full run; a run narrowed to some runtimes or files
  // leaves it out unless asked for.
  options.smoke ??= !options.checkOnly && options.runtimes.length === 0 && options.paths.length === 0;
  if (options.runtimes.length === 0) options.runtimes = [...RUNTIMES];
  // Keep the canonical order whatever order they were given in.
  options.runtimes = RUNTIMES.filter((name) => options.runtimes.includes(name));
  return options;
}

// ---------------------------------------------------------------------------
// Test files: expanded here, so that all three runners get the same list.
// ---------------------------------------------------------------------------

const SKIP_DIRS = new Set(["node_modules", ".git", "dist"]);

/** Every file under `dir` (relative to ROOT), as POSIX paths relative to ROOT. */
function walk(dir) {
  const out = [];
  const absolute = path.join(ROOT, dir);
  for (const entry of fs.readdirSync(absolute, { withFileTypes: true })) {
    if (SKIP_DIRS.has(entry.name)) continue;
    const relative = dir === "." ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...walk(relative));
    else if (entry.isFile()) out.push(relative);
  }
  return out;
}

/** A glob (`*`, `**`, `?`, `[...]`, `{a,b}`) as a RegExp over POSIX paths. */
function globToRegExp(glob) {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*") {
      if (glob[i + 1] === "*") {
        i++;
        if (glob[i + 1] === "/") {
          i++;
          re += "(?:[^/]*/)*"; // `**/`: zero or more directories
        } else {
          re += ".*";
        }
      } else {
        re += "[^/]*";
      }
    } else if (c === "?") {
      re += "[^/]";
    } else if (c === "[") {
      const end = glob.indexOf("]", i + 1);
      if (end === -1) re += "\\[";
      else {
        re += `[${glob.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else if (c === "{") {
      const end = glob.indexOf("}", i + 1);
      if (end === -1) re += "\\{";
      else {
        re += `(?:${glob.slice(i + 1, end).split(",").map((s) => globToRegExp(s).source.slice(1, -1)).join("|")})`;
        i = end;
      }
    } else {
      re += c.replace(/[.+^$()|\\/]/g, "\\$&");
    }
  }
  return new RegExp(`^${re}$`);
}

function toRelative(p) {
  const relative = path.relative(ROOT, path.resolve(ROOT, p)).split(path.sep).join("/");
  return relative === "" ? "." : relative;
}

function testFiles(args) {
  if (args.length === 0) {
    if (!fs.existsSync(path.join(ROOT, DEFAULT_TEST_DIR))) return [];
    return walk(DEFAULT_TEST_DIR).filter((f) => TEST_FILE.test(f)).sort();
  }
  const files = new Set();
  let all;
  for (const arg of args) {
    const absolute = path.resolve(ROOT, arg);
    let stat;
    try {
      stat = fs.statSync(absolute);
    } catch {
      stat = undefined;
    }
    if (stat?.isDirectory()) {
      const dir = toRelative(arg);
      const matched = walk(dir).filter((f) => TEST_FILE.test(f));
      if (matched.length === 0) usage(`no *_test.ts files under ${arg}`);
      matched.forEach((f) => files.add(f));
    } else if (stat?.isFile()) {
      files.add(toRelative(arg));
    } else if (/[*?[{]/.test(arg)) {
      all ??= walk(".");
      const re = globToRegExp(toRelative(arg));
      const matched = all.filter((f) => re.test(f));
      if (matched.length === 0) usage(`no file matches ${arg}`);
      matched.forEach((f) => files.add(f));
    } else {
      usage(`no such file or directory: ${arg}`);
    }
  }
  return [...files].sort();
}

// ---------------------------------------------------------------------------
// Running a child: live output, captured text, timeout, Ctrl-C.
// ---------------------------------------------------------------------------

const childEnv = { ...process.env };
// `#!/usr/bin/env node` scripts (tsc) must get this repo's Node, not the machine's.
childEnv.PATH = [BIN, process.env.PATH ?? ""].join(path.delimiter);
// Colours: on for a terminal (children only see pipes), off for logs (Deno colours
// pipes by default). An explicit NO_COLOR or FORCE_COLOR is left as it is.
if (childEnv.NO_COLOR === undefined && childEnv.FORCE_COLOR === undefined) {
  if (process.stdout.isTTY) childEnv.FORCE_COLOR = "1";
  else childEnv.NO_COLOR = "1";
}

let current; // the running child, for signal forwarding

function killGroup(child, signal, { groupOnly = false } = {}) {
  try {
    process.kill(-child.pid, signal); // the whole group: node --test has children
  } catch {
    if (groupOnly) return; // nothing left in the group
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    if (current) killGroup(current, "SIGKILL");
    console.error(`\ntest.mjs: interrupted by ${signal}`);
    process.exit(130);
  });
}

/**
 * Runs `command args` in ROOT, copying its output to ours as it comes.
 * Resolves to { code, signal, timedOut, output } where output is stdout then stderr.
 */
function run(command, args, { timeoutMs, hide } = {}) {
  console.log(`\n$ ${[path.relative(ROOT, command) || command, ...args].join(" ")}`);
  return new Promise((resolve) => {
    const stdout = [];
    const stderr = [];
    let timedOut = false;
    let child;
    try {
      child = spawn(command, args, {
        cwd: ROOT,
        env: childEnv,
        stdio: ["ignore", "pipe", "pipe"],
        detached: true, // own process group, so a timeout can kill everything it started
      });
    } catch (error) {
      resolve({ code: null, signal: null, timedOut, output: "", error });
      return;
    }
    current = child;
    child.stdout.on("data", (chunk) => {
      stdout.push(chunk);
      if (!hide?.test(String(chunk))) process.stdout.write(chunk);
    });
    child.stderr.on("data", (chunk) => {
      stderr.push(chunk);
      process.stderr.write(hide ? String(chunk).split("\n").filter((line) => !hide.test(line)).join("\n") : chunk);
    });
    const timer = timeoutMs
      ? setTimeout(() => {
        timedOut = true;
        console.error(`\ntest.mjs: killing ${path.basename(command)} after ${timeoutMs / 60000} minutes`);
        killGroup(child, "SIGKILL");
      }, timeoutMs)
      : undefined;
    let spawnError;
    child.on("error", (error) => {
      spawnError = error;
    });
    // Once the runner itself has exited, whatever it left behind in its process
    // group (a server a test started and never stopped) goes too: such a leftover
    // would keep our pipes open, and so this run waiting, until the timeout.
    child.on("exit", () => killGroup(child, "SIGKILL", { groupOnly: true }));
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      const output = Buffer.concat(stdout).toString("utf8") + "\n" + Buffer.concat(stderr).toString("utf8");
      if (spawnError) console.error(`test.mjs: could not run ${command}: ${spawnError.message}`);
      resolve({ code, signal, timedOut, output, error: spawnError });
    });
  });
}

function versionOf(runtime) {
  const result = spawnSync(bin(binaryOf(runtime)), ["--version"], { encoding: "utf8", env: childEnv });
  const text = (result.stdout ?? "").trim();
  if (result.status !== 0 || !text) return "?";
  if (runtime === "node") return text.replace(/^v/, ""); // v24.21.0
  if (runtime.startsWith("deno")) return text.match(/^deno (\S+)/)?.[1] ?? "?"; // deno 2.9.6 (stable, ...)
  return text.split("\n")[0]; // bun: 1.4.5
}

// ---------------------------------------------------------------------------
// Reading each runner's closing counts.
// ---------------------------------------------------------------------------

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g;

function lastMatch(text, re) {
  let last;
  for (const m of text.matchAll(re)) last = m;
  return last;
}

/**
 * Node's spec reporter ends with
 *   ℹ tests 10 / ℹ suites 1 / ℹ pass 7 / ℹ fail 1 / ℹ cancelled 0 / ℹ skipped 1 / ℹ todo 1
 * Subtests count as tests; a timed-out test is "cancelled" (counted as failed here).
 * A file that registers no test at all shows up as one passing test named after the
 * file (`✔ tests/x_test.ts (12ms)`): those are not tests, so they are taken off.
 */
function parseNode(text, files) {
  const count = (name) => {
    const m = lastMatch(text, new RegExp(`^ℹ ${name} (\\d+)\\s*$`, "gm"));
    return m ? Number(m[1]) : undefined;
  };
  const pass = count("pass");
  const fail = count("fail");
  if (pass === undefined || fail === undefined) return undefined;
  const fileSet = new Set(files);
  let emptyFiles = 0;
  for (const m of text.matchAll(/^✔ (.+) \([\d.]+m?s\)\s*$/gm)) {
    if (fileSet.has(m[1])) emptyFiles++;
  }
  return {
    passed: Math.max(0, pass - emptyFiles),
    failed: fail + (count("cancelled") ?? 0),
    skipped: (count("skipped") ?? 0) + (count("todo") ?? 0),
    note: emptyFiles ? `${emptyFiles} file(s) without tests` : undefined,
  };
}

/**
 * Deno ends with
 *   ok | 4 passed (4 steps) | 0 failed | 2 ignored (101ms)
 *   FAILED | 1 passed (1 step) | 2 failed (1 step) (69ms)
 * node:test subtests and describe/it children are Deno "steps"; they are added in.
 */
function parseDeno(text) {
  const m = lastMatch(
    text,
    /^(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?(?: \| (\d+) ignored(?: \((\d+) steps?\))?)?/gm,
  );
  if (!m) return undefined;
  const n = (i) => Number(m[i] ?? 0);
  return { passed: n(1) + n(2), failed: n(3) + n(4), skipped: n(5) + n(6) };
}

/**
 * Bun ends with (on stderr)
 *    5 pass
 *    1 skip
 *    1 todo
 *    1 fail
 *    1 error        <- unhandled errors between tests, counted as failed here
 *   Ran 8 tests across 2 files. [91.00ms]
 * Lines that are zero are left out, except pass and fail.
 */
function parseBun(text) {
  const start = text.search(/^Ran \d+ tests? across \d+ files?\./m);
  const count = (name) => {
    const m = lastMatch(text, new RegExp(`^ (\\d+) ${name}\\s*$`, "gm"));
    return m ? Number(m[1]) : undefined;
  };
  const pass = count("pass");
  const fail = count("fail");
  if (pass === undefined || fail === undefined || start === -1) return undefined;
  return {
    passed: pass,
    failed: fail + (count("errors?") ?? 0),
    skipped: (count("skip") ?? 0) + (count("todo") ?? 0),
  };
}

// ---------------------------------------------------------------------------
// The steps
// ---------------------------------------------------------------------------

/** The package smoke test: its closing line is `smoke: N passed, N failed (T s)`. */
const SMOKE_TIMEOUT_MS = 5 * 60 * 1000;

async function runSmoke() {
  const result = await run(process.execPath, [path.join(ROOT, "scripts", "smoke", "run.mjs")], { timeoutMs: SMOKE_TIMEOUT_MS });
  const text = result.output.replace(ANSI, "").replace(/\r/g, "");
  const m = lastMatch(text, /^smoke: (\d+) passed, (\d+) failed/gm);
  const problems = [];
  if (result.timedOut) problems.push(`killed after ${SMOKE_TIMEOUT_MS / 60000} minutes`);
  else if (!m) problems.push(`no summary line found in its output (${describeExit(result)})`);
  else if (result.code !== 0 && Number(m[2]) === 0) problems.push(describeExit(result));
  const passed = m ? Number(m[1]) : 0;
  const failed = m ? Number(m[2]) : 0;
  return {
    runtime: "smoke",
    version: "(npm package: build, pack, install, node/deno/bun)",
    passed,
    failed,
    skipped: 0,
    ok: problems.length === 0 && failed === 0 && passed > 0,
    problems: passed + failed === 0 && problems.length === 0 ? ["ran no step"] : problems,
  };
}

function runtimeCommand(runtime, files) {
  switch (runtime) {
    case "node":
      return [bin("node"), [...NODE_TEST_FLAGS, ...files]];
    case "deno":
      return [bin("deno"), ["test", ...DENO_TEST_FLAGS, ...files]];
    case "deno-unstable-net":
      return [bin("deno"), ["test", ...DENO_TEST_FLAGS, "--unstable-net", ...files]];
    case "bun":
      // Bun reads a bare argument as a name filter; `./` makes it a path.
      return [bin("bun"), ["test", ...BUN_TEST_FLAGS, ...files.map((f) => `./${f}`)]];
  }
}

const ENTRY_POINTS = ["mod.ts", "resolve/mod.ts", "tcp/mod.ts", "udp/mod.ts", "unix/mod.ts", "cli/mod.ts"];
const LIBRARY_DIRS = ["core", "network", "resolve", "tcp", "udp", "unix", "node", "deno", "bun", "cli"];

/** Every library source file, for the doc tests; cli/mod.ts runs the tool when loaded, so not it. */
function librarySources() {
  const found = ["mod.ts"];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith(".ts") && rel !== path.join("cli", "mod.ts")) found.push(rel);
    }
  };
  for (const dir of LIBRARY_DIRS) walk(dir);
  return found.sort();
}
const DENO_DOC_NOISE = /Failed resolving types|at file:\/\/.*node_modules\/@types\/node/;

async function typeChecks() {
  const checks = [
    ["tsc", bin("tsc"), ["--noEmit", "-p", "."]],
    // With no file arguments `deno check` checks every module of the project
    // (deno.json's "exclude" and node_modules left out): sources, tests, bench.
    ["deno check", bin("deno"), ["check"]],
    // deno's recommended lint rules, on the same modules.
    ["deno lint", bin("deno"), ["lint"]],
    // JSR's rules: every export documented, no slow types, a clean dry run.
    ["deno doc --lint", bin("deno"), ["doc", "--lint", ...ENTRY_POINTS]],
    ["deno publish --dry-run", bin("deno"), ["publish", "--dry-run", "--allow-dirty"]],
    // Every @example that is not marked `ignore` runs (loopback only).
    ["deno test --doc", bin("deno"), ["test", "--doc", "-A", ...librarySources()]],
  ];
  const results = [];
  for (const [name, command, args] of checks) {
    // deno doc cannot follow @types/node's own references and warns about each; noise only.
    const result = await run(command, args, { timeoutMs: RUN_TIMEOUT_MS, hide: DENO_DOC_NOISE });
    const ok = result.code === 0 && !result.timedOut;
    results.push({
      name,
      ok,
      why: ok ? undefined : result.timedOut ? "timed out" : describeExit(result),
    });
  }
  return results;
}

function describeExit(result) {
  if (result.error) return `could not start: ${result.error.message}`;
  if (result.signal) return `killed by ${result.signal}`;
  return `exit code ${result.code}`;
}

async function runRuntime(runtime, files) {
  const version = versionOf(runtime);
  const [command, args] = runtimeCommand(runtime, files);
  const result = await run(command, args, { timeoutMs: RUN_TIMEOUT_MS });
  const text = result.output.replace(ANSI, "").replace(/\r/g, "");
  const counts = runtime === "node"
    ? parseNode(text, files)
    : runtime.startsWith("deno")
    ? parseDeno(text)
    : parseBun(text);
  const problems = [];
  if (result.timedOut) problems.push(`killed after ${RUN_TIMEOUT_MS / 60000} minutes`);
  // A non-zero exit is only worth a word when no failed test explains it.
  else if (result.code !== 0 && !(counts?.failed > 0)) problems.push(describeExit(result));
  if (!counts) {
    if (!result.timedOut) problems.push("no summary line found in its output");
  } else if (counts.passed + counts.failed === 0) problems.push("ran no tests");
  return {
    runtime,
    version,
    passed: counts?.passed ?? 0,
    failed: counts?.failed ?? 0,
    skipped: counts?.skipped ?? 0,
    note: counts?.note,
    ok: problems.length === 0 && (counts?.failed ?? 0) === 0,
    problems,
  };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const files = options.checkOnly ? [] : testFiles(options.paths);

  // The tests' real peers (dnsmasq, socat, openssl, ...: scripts/peers.mjs) before anything
  // else: installed here as root with apt-get, or the run stops at once naming them.
  if (!options.checkOnly && files.length > 0) {
    const peers = ensurePeers((line) => console.log(`test.mjs: ${line}`));
    if (!peers.ok) {
      console.error(`test.mjs: ${peers.message}`);
      process.exit(1);
    }
  }

  const checks = options.check ? await typeChecks() : [];
  const results = [];
  if (!options.checkOnly) {
    if (files.length === 0) {
      console.error(`\ntest.mjs: no test files (*_test.ts) under ${DEFAULT_TEST_DIR}/`);
    } else {
      for (const runtime of options.runtimes) {
        const selected = runtime === "deno-unstable-net" ? files.filter((f) => DATAGRAM_TESTS.test(f)) : files;
        if (selected.length > 0) results.push(await runRuntime(runtime, selected));
      }
    }
    if (options.smoke) results.push(await runSmoke());
  }

  console.log("\n==== summary ====");
  for (const check of checks) {
    console.log(`${check.name}: ${check.ok ? "ok" : `FAILED (${check.why})`}`);
  }
  if (options.checkOnly) {
    process.exit(checks.every((c) => c.ok) ? 0 : 1);
  }
  if (files.length === 0) {
    for (const runtime of options.runtimes.filter((name) => !results.some((r) => r.runtime === name))) {
      results.push({ runtime, version: versionOf(runtime), passed: 0, failed: 0, skipped: 0, ok: false, problems: ["no test files"] });
    }
  }
  for (const r of results) {
    const skipped = r.skipped ? `, ${r.skipped} skipped` : "";
    const extra = [...(r.note ? [r.note] : []), ...r.problems.map((p) => `FAILED: ${p}`)];
    console.log(`${r.runtime} ${r.version}: ${r.passed} passed, ${r.failed} failed${skipped}${extra.length ? ` (${extra.join("; ")})` : ""}`);
  }

  // A failure that no runner counted as a failed test (a type check, a crash, a
  // timeout, a runtime that ran nothing) still counts once, so the closing line
  // never says "0 failed" for a run that failed.
  const passed = results.reduce((sum, r) => sum + r.passed, 0);
  const uncounted = checks.filter((c) => !c.ok).length +
    results.filter((r) => !r.ok && r.failed === 0).length;
  const failed = results.reduce((sum, r) => sum + r.failed, 0) + uncounted;
  if (uncounted) console.log(`(${uncounted} failed check(s) or run(s) with no failed test of their own, each counted as 1 failed)`);
  console.log(`${passed} passed, ${failed} failed`);

  const ok = checks.every((c) => c.ok) && results.every((r) => r.ok);
  process.exit(ok ? 0 : 1);
}

await main();
