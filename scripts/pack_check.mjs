#!/usr/bin/env node
// What goes into the npm tarball, checked (`npm run check:package`):
//   1. the build (scripts/build.mjs);
//   2. `npm pack --dry-run --json`: the file list holds package.json, README.md,
//      LICENSE and dist/ only: no tests, benches, scripts, CI files, and no .ts
//      source (only .d.ts); every "exports" target is in it, each built from
//      deno.json's entry point; every .js has its .d.ts; the drivers of all three
//      runtimes are there (the package picks one at run time); no .d.ts names a
//      relative `.ts` module; every "bin" is in it and starts with a node shebang;
//   3. publint --strict and attw --profile esm-only over the packed tarball.
// scripts/smoke/run.mjs runs the same checks (the functions exported here) as
// steps of the smoke run, before it installs the tarball.
//
// Plain ESM JavaScript with no dependencies of its own (any Node from 20 on runs it).
//
// Usage: node scripts/pack_check.mjs [--no-build]

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { forEachSpecifier } from "./build.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(ROOT, "node_modules", ".bin");

/** The runtime drivers: each must be in the tarball, whatever runtime installs it. */
const DRIVERS = ["node", "deno", "bun"];

/** Files allowed outside dist/ (npm adds package.json, README and LICENSE itself). */
const TOP_LEVEL = new Set(["package.json", "README.md", "LICENSE"]);

/**
 * The environment for a nested npm: without what the npm that runs us (npm test)
 * put there about this package and its prefix, so that `npm install` in another
 * directory installs there, not here.
 */
export function npmEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  for (const key of Object.keys(env)) {
    if (/^npm_(lifecycle_|package_|command$|config_local_prefix$)/.test(key)) delete env[key];
  }
  return env;
}

/** How to run npm: the npm that runs us when there is one (npm test), else `npm` on PATH. */
export function npmCommand() {
  const execPath = process.env.npm_execpath;
  if (execPath && /npm-cli\.c?js$/.test(execPath) && fs.existsSync(execPath)) {
    return [process.env.npm_node_execpath || process.execPath, [execPath]];
  }
  return ["npm", []];
}

/** Runs a command to its end: { ok, status, stdout, stderr, why }. */
export function runSync(command, args, { cwd = ROOT, env = process.env, timeoutMs = 60_000 } = {}) {
  const result = spawnSync(command, args, { cwd, env, encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20 });
  const why = result.error
    ? result.error.code === "ETIMEDOUT" ? `timed out after ${timeoutMs / 1000} s` : result.error.message
    : result.signal
    ? `killed by ${result.signal}`
    : result.status !== 0
    ? `exit code ${result.status}`
    : undefined;
  return { ok: why === undefined, status: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "", why };
}

export function npm(args, options = {}) {
  const [command, prefix] = npmCommand();
  return runSync(command, [...prefix, ...args], { ...options, env: npmEnv(options.env) });
}

/** node scripts/build.mjs, with the Node that runs us. */
export function build() {
  return runSync(process.execPath, [path.join(ROOT, "scripts", "build.mjs")]);
}

/** The file list of `npm pack --dry-run --json` (the build is not rerun: --ignore-scripts). */
export function packDryRun() {
  const result = npm(["pack", "--dry-run", "--json", "--ignore-scripts"]);
  if (!result.ok) throw new Error(`npm pack --dry-run failed (${result.why}):\n${result.stderr}`);
  const [info] = JSON.parse(result.stdout);
  return info.files.map((f) => f.path).sort();
}

/** Packs the package (already built) into `directory`; returns the tarball's path. */
export function pack(directory) {
  const result = npm(["pack", "--json", "--ignore-scripts", "--pack-destination", directory]);
  if (!result.ok) throw new Error(`npm pack failed (${result.why}):\n${result.stderr}`);
  const [info] = JSON.parse(result.stdout);
  return path.join(directory, info.filename);
}

const readJson = (name) => JSON.parse(fs.readFileSync(path.join(ROOT, name), "utf8"));

/** The built file that deno.json's source entry becomes: `./tcp/mod.ts` -> `dist/tcp/mod` + ext. */
const builtFrom = (source, extension) => `./dist/${source.replace(/^\.\//, "").replace(/\.ts$/, extension)}`;

/** Problems with a packed file list (paths relative to the package root); [] when it is right. */
export function checkPackContents(files) {
  const problems = [];
  const present = new Set(files);
  for (const name of TOP_LEVEL) if (!present.has(name)) problems.push(`${name} is missing`);

  for (const file of files) {
    if (TOP_LEVEL.has(file)) continue;
    // The reference pages the README links to.
    if (/^docs\/[\w-]+\.md$/.test(file)) continue;
    if (!file.startsWith("dist/")) problems.push(`${file}: outside dist/`);
    if (/(^|\/)(tests|bench|scripts|\.ci|node_modules)\//.test(file)) problems.push(`${file}: a test, bench, script or CI file`);
    if (/_test\.[cm]?[jt]s$/.test(file)) problems.push(`${file}: a test file`);
    if (/\.[cm]?tsx?$/.test(file) && !/\.d\.[cm]?ts$/.test(file)) problems.push(`${file}: a TypeScript source`);
    if (!/\.(js|d\.ts)$/.test(file) && file.startsWith("dist/")) problems.push(`${file}: neither .js nor .d.ts`);
    if (file.endsWith(".js") && !present.has(file.replace(/\.js$/, ".d.ts"))) problems.push(`${file}: no .d.ts beside it`);
  }

  for (const driver of DRIVERS) {
    if (!present.has(`dist/${driver}/driver.js`)) problems.push(`dist/${driver}/driver.js (the ${driver} driver) is missing`);
  }

  const pkg = readJson("package.json");
  const deno = readJson("deno.json");
  const npmExports = pkg.exports ?? {};
  if (JSON.stringify(Object.keys(npmExports).sort()) !== JSON.stringify(Object.keys(deno.exports).sort())) {
    problems.push(`package.json and deno.json name different exports`);
  }
  for (const [key, source] of Object.entries(deno.exports)) {
    const entry = npmExports[key];
    if (typeof entry !== "object" || entry === null) {
      problems.push(`exports["${key}"] is not a conditions object`);
      continue;
    }
    if (Object.keys(entry)[0] !== "types") problems.push(`exports["${key}"]: "types" is not the first condition`);
    if (entry.types !== builtFrom(source, ".d.ts")) problems.push(`exports["${key}"].types is not ${builtFrom(source, ".d.ts")}`);
    if (entry.default !== builtFrom(source, ".js")) problems.push(`exports["${key}"].default is not ${builtFrom(source, ".js")}`);
    for (const target of Object.values(entry)) {
      if (typeof target === "string" && !present.has(target.replace(/^\.\//, ""))) problems.push(`exports["${key}"] -> ${target}: not in the tarball`);
    }
  }
  for (const field of ["main", "types"]) {
    if (pkg[field] && !present.has(pkg[field].replace(/^\.\//, ""))) problems.push(`"${field}": ${pkg[field]} is not in the tarball`);
  }

  // Each bin (the CLI): in the tarball, a .js file that starts with `#!/usr/bin/env node`.
  for (const [name, target] of Object.entries(pkg.bin ?? {})) {
    const file = target.replace(/^\.\//, "");
    if (!present.has(file)) {
      problems.push(`bin "${name}": ${target} is not in the tarball`);
      continue;
    }
    const full = path.join(ROOT, file);
    if (fs.existsSync(full) && !fs.readFileSync(full, "utf8").startsWith("#!/usr/bin/env node\n")) {
      problems.push(`bin "${name}": ${target} does not start with #!/usr/bin/env node`);
    }
  }

  // The build fixes tsc's `.ts` specifiers in .d.ts files; this makes sure it did.
  for (const file of files.filter((f) => f.endsWith(".d.ts"))) {
    const full = path.join(ROOT, file);
    if (!fs.existsSync(full)) continue;
    forEachSpecifier(fs.readFileSync(full, "utf8"), (_s, _e, value) => {
      if (/^\.{1,2}\/.*(?<!\.d)\.[cm]?ts$/.test(value)) problems.push(`${file}: imports "${value}" (a .ts specifier)`);
    });
  }
  return problems;
}

/** publint --strict over a tarball. */
export function publint(tarball) {
  return runSync(process.execPath, [path.join(BIN, "publint"), "run", tarball, "--strict"]);
}

/** attw over a tarball, for an ESM-only package (no CommonJS or node10 resolution). */
export function attw(tarball) {
  return runSync(process.execPath, [path.join(BIN, "attw"), tarball, "--profile", "esm-only", "--no-color"]);
}

function main() {
  const noBuild = process.argv.includes("--no-build");
  let failed = 0;
  const report = (name, ok, detail) => {
    if (!ok) failed++;
    console.log(`${ok ? "ok" : "FAILED"}: ${name}${detail ? `\n${detail.trimEnd()}` : ""}`);
  };
  if (!noBuild) {
    const result = build();
    report("build", result.ok, result.ok ? result.stdout : `${result.why}\n${result.stdout}${result.stderr}`);
    if (!result.ok) process.exit(1);
  }
  const files = packDryRun();
  const problems = checkPackContents(files);
  report(`pack contents (${files.length} files)`, problems.length === 0, problems.map((p) => `  ${p}`).join("\n"));

  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "unisock-pack-"));
  try {
    const tarball = pack(directory);
    for (const [name, check] of [["publint --strict", publint], ["attw --profile esm-only", attw]]) {
      const result = check(tarball);
      report(name, result.ok, result.ok ? result.stdout : `${result.why}\n${result.stdout}${result.stderr}`);
    }
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
