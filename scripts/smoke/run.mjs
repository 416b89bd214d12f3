#!/usr/bin/env node
// The package smoke test (the "smoke" step of `npm test`): builds the npm package,
// checks what it ships, installs the packed tarball into a temporary project and
// uses it there, as a consumer would, on every runtime.
//
// Steps, each one line `ok: ...` or `FAILED: ...`, then `smoke: N passed, N failed`
// (scripts/test.mjs reads that line):
//   build            node scripts/build.mjs (tsc -> dist/, .d.ts specifiers fixed)
//   pack contents    npm pack --dry-run --json: dist/ + README + LICENSE only, ...
//                    (scripts/pack_check.mjs)
//   publint          publint --strict over the tarball
//   attw             attw --profile esm-only over the tarball
//   install          npm install <tarball> --prefer-offline in a temporary project;
//                    dns-packet and ipaddr.js come from npm's cache (or the registry)
//   types            tsc over a consumer .ts file that imports every entry point
//                    (moduleResolution nodenext, then bundler; skipLibCheck off):
//                    the shipped .d.ts files resolve and type check
//   node <version>   scripts/smoke/smoke.mjs with the Node that runs npm
//                    ($npm_node_execpath; else the first `node` on PATH that is not
//                    this repository's): Node 20 here
//   node <version>   the same with node_modules/.bin/node (Node 24), when it differs
//   deno <version>   the same with `deno run -A`: a bare `unisock` import, which Deno
//                    resolves from the project's node_modules (package.json beside
//                    it, so nodeModulesDir is "manual"); no registry is needed
//   bun <version>    the same with `bun`
//   npx unisock      the package's bin, as `npm exec --no -- unisock resolve localhost`
//                    (and `--json --family ipv4`) in the temporary project, with the
//                    Node that runs npm first on PATH (the bin's `#!/usr/bin/env node`)
// A step that cannot run because an earlier one failed counts as failed.
//
// Usage: node scripts/smoke/run.mjs [--keep]   (--keep: leave the temporary project)

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import {
  attw,
  build,
  checkPackContents,
  npm,
  pack,
  packDryRun,
  publint,
  ROOT,
  runSync,
} from "../pack_check.mjs";

const BIN = path.join(ROOT, "node_modules", ".bin");
const STEP_TIMEOUT_MS = 60_000;
const keep = process.argv.includes("--keep");

/** The consumer of the types step: every entry point, and the calls smoke.mjs makes. */
const CONSUMER_TS = `
import { resolveAddresses, SocketError, SOCKET_ERROR_CODES, tcp, udp, unix, type IpAddress, type SocketErrorCode } from "unisock";
import { resolveAddresses as resolve2, WireResolver } from "unisock/resolve";
import { connect, listen, type Connection } from "unisock/tcp";
import { bind } from "unisock/udp";
import * as uds from "unisock/unix";

const addresses: IpAddress[] = await resolveAddresses("localhost", { family: "any" });
const listener = await listen({ hostname: "127.0.0.1", port: 0 });
const port: number = listener.localAddress.port;
const client: Connection = await connect({ hostname: "127.0.0.1", port }, { timeout: 1000 });
const n: number | null = await client.read(new Uint8Array(4));
const written: Promise<number> = client.write(new Uint8Array(1));
const stream: ReadableStream<Uint8Array> = client.readable;
await client[Symbol.asyncDispose]();
const socket = await bind({ hostname: "127.0.0.1", port: 0 });
const unixListener = await uds.listen("/tmp/x.sock", { mode: 0o600 });
const code: SocketErrorCode = SOCKET_ERROR_CODES[0]!;
const error: unknown = new Error();
if (error instanceof SocketError) console.log(error.code satisfies SocketErrorCode);
void [addresses, n, written, stream, socket, unixListener, code, tcp, udp, unix, resolve2, WireResolver];
// @ts-expect-error a port is a number
await connect({ hostname: "127.0.0.1", port: "80" });
`;

function consumerTsconfig(moduleResolution) {
  return {
    compilerOptions: {
      target: "ES2022",
      lib: ["ES2022"],
      module: moduleResolution === "bundler" ? "esnext" : "nodenext",
      moduleResolution,
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      // The package's types use Node's globals (AbortSignal, web streams,
      // Symbol.asyncDispose), as any consumer on Node has them: from @types/node.
      types: ["node"],
      typeRoots: [path.join(ROOT, "node_modules", "@types")],
    },
    files: ["consumer.ts"],
  };
}

/** A `node` on PATH that is not this repository's node_modules/.bin/node. */
function systemNode() {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir || path.resolve(dir) === BIN) continue;
    const candidate = path.join(dir, "node");
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return "/usr/bin/node";
}

function versionOf(command, args = ["--version"]) {
  const result = runSync(command, args, { timeoutMs: 10_000 });
  return result.stdout.trim().split("\n")[0].replace(/^v/, "").replace(/^deno /, "").split(" ")[0] || "?";
}

const results = [];

function report(name, ok, detail) {
  results.push({ name, ok });
  const text = detail?.trim();
  console.log(`${ok ? "ok" : "FAILED"}: ${name}${text ? `\n${text.replace(/^/gm, "  ")}` : ""}`);
}

/** Runs `body` as a step; it returns [ok, detail] or throws (failed). Skipped with `blocked` set. */
function step(name, blocked, body) {
  if (blocked) {
    report(name, false, `not run: ${blocked}`);
    return false;
  }
  const started = Date.now();
  try {
    const [ok, detail] = body();
    report(`${name} (${Date.now() - started} ms)`, ok, detail);
    return ok;
  } catch (error) {
    report(`${name} (${Date.now() - started} ms)`, false, String(error?.stack ?? error));
    return false;
  }
}

const output = (result) => `${result.why ? `${result.why}\n` : ""}${result.stdout}${result.stderr}`;

function main() {
  const started = Date.now();
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), "unisock-smoke-"));
  const project = path.join(temp, "project");
  let tarball;
  try {
    const built = step("build", undefined, () => {
      const result = build();
      return [result.ok, result.ok ? result.stdout : output(result)];
    });
    const notBuilt = built ? undefined : "the build failed";

    step("pack contents", notBuilt, () => {
      const files = packDryRun();
      const problems = checkPackContents(files);
      return [problems.length === 0, problems.length ? problems.join("\n") : `${files.length} files, all under dist/ but package.json, README.md, LICENSE`];
    });

    const packed = step("pack", notBuilt, () => {
      tarball = pack(temp);
      return [true, path.basename(tarball)];
    });
    const notPacked = notBuilt ?? (packed ? undefined : "npm pack failed");

    step("publint --strict", notPacked, () => {
      const result = publint(tarball);
      return [result.ok, result.ok ? result.stdout.trim().split("\n").at(-1) : output(result)];
    });
    step("attw --profile esm-only", notPacked, () => {
      const result = attw(tarball);
      return [result.ok, result.ok ? "no problem for node16 (from ESM) and bundler resolution" : output(result)];
    });

    const installed = step("install", notPacked, () => {
      fs.mkdirSync(project);
      fs.writeFileSync(
        path.join(project, "package.json"),
        JSON.stringify({ name: "unisock-smoke", private: true, type: "module" }, null, 2) + "\n",
      );
      const result = npm(
        ["install", tarball, "--no-audit", "--no-fund", "--prefer-offline", "--no-package-lock", "--ignore-scripts"],
        { cwd: project, timeoutMs: STEP_TIMEOUT_MS },
      );
      if (!result.ok) return [false, output(result)];
      fs.copyFileSync(path.join(ROOT, "scripts", "smoke", "smoke.mjs"), path.join(project, "smoke.mjs"));
      fs.writeFileSync(path.join(project, "consumer.ts"), CONSUMER_TS);
      return [true, result.stdout.trim().split("\n").filter(Boolean).at(-1)];
    });
    const notInstalled = notPacked ?? (installed ? undefined : "npm install failed");

    step("types (tsc, consumer project)", notInstalled, () => {
      const lines = [];
      let ok = true;
      for (const resolution of ["nodenext", "bundler"]) {
        const config = path.join(project, `tsconfig.${resolution}.json`);
        fs.writeFileSync(config, JSON.stringify(consumerTsconfig(resolution), null, 2));
        const result = runSync(process.execPath, [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", config], {
          cwd: project,
          timeoutMs: STEP_TIMEOUT_MS,
        });
        ok &&= result.ok;
        lines.push(`moduleResolution ${resolution}: ${result.ok ? "ok" : output(result)}`);
      }
      const tsc = runSync(process.execPath, [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "--version"]);
      lines.push(`(${tsc.stdout.trim().replace(/^Version/, "typescript")})`);
      return [ok, lines.join("\n")];
    });

    const npmNode = process.env.npm_node_execpath || systemNode();
    const runs = [[`node ${versionOf(npmNode)} (${npmNode}, the Node that runs npm)`, npmNode, ["smoke.mjs"]]];
    const devNode = path.join(BIN, "node");
    if (versionOf(devNode) !== versionOf(npmNode)) {
      runs.push([`node ${versionOf(devNode)} (node_modules/.bin/node)`, devNode, ["smoke.mjs"]]);
    }
    runs.push([`deno ${versionOf(path.join(BIN, "deno"))}`, path.join(BIN, "deno"), ["run", "-A", "smoke.mjs"]]);
    runs.push([`bun ${versionOf(path.join(BIN, "bun"))}`, path.join(BIN, "bun"), ["smoke.mjs"]]);
    for (const [name, command, args] of runs) {
      step(name, notInstalled, () => {
        const result = runSync(command, args, {
          cwd: project,
          timeoutMs: STEP_TIMEOUT_MS,
          env: { ...process.env, NO_COLOR: "1" },
        });
        return [result.ok, result.ok ? result.stdout : output(result)];
      });
    }

    step(`npx unisock resolve localhost (node ${versionOf(npmNode)})`, notInstalled, () => {
      const env = { PATH: [path.dirname(npmNode), process.env.PATH ?? ""].join(path.delimiter), NO_COLOR: "1" };
      const exec = (args) => npm(["exec", "--no", "--", "unisock", ...args], { cwd: project, env, timeoutMs: STEP_TIMEOUT_MS });
      const plain = exec(["resolve", "localhost"]);
      if (!plain.ok) return [false, output(plain)];
      const lines = plain.stdout.trim().split("\n");
      if (!lines.includes("127.0.0.1")) return [false, `expected 127.0.0.1 among the lines, got:\n${plain.stdout}`];
      const json = exec(["resolve", "localhost", "--json", "--family", "ipv4"]);
      if (!json.ok) return [false, output(json)];
      const expected = JSON.stringify({ localhost: ["127.0.0.1"] });
      if (json.stdout.trim() !== expected) return [false, `--json --family ipv4: expected ${expected}, got ${json.stdout}`];
      return [true, `${lines.join(", ")}; --json --family ipv4: ${json.stdout.trim()}`];
    });
  } finally {
    if (keep) console.log(`(kept ${temp})`);
    else fs.rmSync(temp, { recursive: true, force: true });
  }

  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  console.log(`smoke: ${passed} passed, ${failed} failed (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  process.exit(failed ? 1 : 0);
}

main();
