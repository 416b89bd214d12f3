#!/usr/bin/env node
// `npm run build`: compiles the .ts sources to JavaScript and .d.ts in dist/ with tsc
// (tsconfig.build.json), for the npm package. Deno and JSR use the .ts sources as
// they are; Node 20 consumers and TypeScript users of the npm package use dist/.
//
// Plain ESM JavaScript with no dependencies (any Node from 20 on runs it).
//
// Steps:
//   1. dist/ is removed, so no file of an earlier build (a source since renamed or
//      deleted) ends up in the package.
//   2. tsc -p tsconfig.build.json. `rewriteRelativeImportExtensions` turns
//      `from "./x.ts"` into `from "./x.js"` in the JavaScript, but tsc (5.7 to 7.0
//      at least) leaves the .d.ts files with `from "./x.ts"`: a consumer's
//      TypeScript then looks for x.ts, which the package does not ship, or refuses
//      the `.ts` specifier, depending on its version and options.
//   3. Those .d.ts specifiers are rewritten `.ts` -> `.js` (relative ones only, and
//      only in code: not in comments, so the doc examples stay as they are written).
//   4. Every emitted file is checked: no relative `.ts` specifier left in code, and
//      every relative specifier names a file that exists in dist/. A failure here
//      fails the build.
//   5. package.json's "bin" files (the CLI, dist/cli/mod.js) are made executable, so
//      that `npx unisock` works in this repository too (npm sets the bit itself when it
//      installs the package; tsc writes plain files).
//
// Usage: node scripts/build.mjs [--quiet]

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DIST = path.join(ROOT, "dist");
const TSC = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
const quiet = process.argv.includes("--quiet");

/**
 * Splits module text into code and non-code (comments, string/template contents are
 * reported separately): calls `onSpecifier(start, end, value)` for every string
 * literal that follows `from`, `import` or `import(` / `require(` in code, where
 * start/end are the offsets of the literal's contents. Comments are skipped, so a
 * doc example's `from "./mod.ts"` is never touched.
 */
export function forEachSpecifier(text, onSpecifier) {
  let i = 0;
  let lastWord = ""; // the last identifier or punctuation seen in code
  let beforeParen = ""; // the word before the last `(`
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end === -1 ? text.length : end + 2;
      continue;
    }
    if (c === "/" && next === "/") {
      const end = text.indexOf("\n", i + 2);
      i = end === -1 ? text.length : end + 1;
      continue;
    }
    if (c === "/" && REGEX_BEFORE.test(lastWord)) {
      // A regular expression literal (it may hold quotes): skipped to its closing `/`.
      let j = i + 1;
      let inClass = false;
      while (j < text.length && text[j] !== "\n" && (inClass || text[j] !== "/")) {
        if (text[j] === "\\") j++;
        else if (text[j] === "[") inClass = true;
        else if (text[j] === "]") inClass = false;
        j++;
      }
      lastWord = "<regex>";
      i = j + 1;
      continue;
    }
    if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < text.length && text[j] !== c) {
        if (text[j] === "\\") j++;
        j++;
      }
      const isSpecifier = c !== "`" &&
        (lastWord === "from" || lastWord === "import" ||
          (lastWord === "(" && (beforeParen === "import" || beforeParen === "require")));
      if (isSpecifier) onSpecifier(i + 1, j, text.slice(i + 1, j));
      lastWord = "<string>";
      i = j + 1;
      continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      let j = i + 1;
      while (j < text.length && /[\w$]/.test(text[j])) j++;
      // `obj.import` or `x.from` are property names, not keywords.
      lastWord = text[i - 1] === "." ? "<property>" : text.slice(i, j);
      i = j;
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "(") beforeParen = lastWord;
    lastWord = c;
    i++;
  }
}

/** What may come right before a regular expression literal (else `/` is division). */
const REGEX_BEFORE = /^(?:|[(,=:[!&|?{};+\-*%<>~^]|return|typeof|instanceof|in|of|new|delete|void|throw|case|do|else|yield|await)$/;

const RELATIVE_TS = /^\.{1,2}\/.*(?<!\.d)\.([mc]?)ts$/;

/** `./x.ts` -> `./x.js`, `./x.mts` -> `./x.mjs`; anything else unchanged. */
function rewriteSpecifier(specifier) {
  const m = RELATIVE_TS.exec(specifier);
  return m ? `${specifier.slice(0, -(m[1].length + 2))}${m[1]}js` : specifier;
}

function rewriteDeclaration(text) {
  const edits = [];
  forEachSpecifier(text, (start, end, value) => {
    const rewritten = rewriteSpecifier(value);
    if (rewritten !== value) edits.push([start, end, rewritten]);
  });
  let out = text;
  for (const [start, end, value] of edits.reverse()) out = out.slice(0, start) + value + out.slice(end);
  return { text: out, count: edits.length };
}

function filesUnder(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(full));
    else if (entry.isFile()) out.push(full);
  }
  return out.sort();
}

/** Problems in the emitted files: `.ts` specifiers left, or relative imports of missing files. */
function verify(files) {
  const problems = [];
  for (const file of files) {
    if (!/\.(d\.ts|js)$/.test(file)) continue;
    const text = fs.readFileSync(file, "utf8");
    forEachSpecifier(text, (_start, _end, value) => {
      if (!value.startsWith("./") && !value.startsWith("../")) return;
      const where = `${path.relative(ROOT, file)}: "${value}"`;
      if (RELATIVE_TS.test(value)) problems.push(`${where}: a .ts specifier`);
      const target = path.resolve(path.dirname(file), value);
      const candidates = file.endsWith(".d.ts") ? [target.replace(/\.js$/, ".d.ts"), target] : [target];
      if (!candidates.some((c) => fs.existsSync(c))) problems.push(`${where}: no such file in dist/`);
    });
  }
  return problems;
}

function main() {
  const started = Date.now();
  fs.rmSync(DIST, { recursive: true, force: true });

  const tsc = spawnSync(process.execPath, [TSC, "-p", path.join(ROOT, "tsconfig.build.json")], {
    cwd: ROOT,
    stdio: "inherit",
  });
  if (tsc.error) throw tsc.error;
  if (tsc.status !== 0) {
    console.error(`build: tsc failed (exit code ${tsc.status ?? tsc.signal})`);
    process.exit(1);
  }

  const files = filesUnder(DIST);
  let rewritten = 0;
  for (const file of files.filter((f) => f.endsWith(".d.ts"))) {
    const before = fs.readFileSync(file, "utf8");
    const { text, count } = rewriteDeclaration(before);
    if (count > 0) fs.writeFileSync(file, text);
    rewritten += count;
  }

  const problems = verify(files);
  if (problems.length > 0) {
    console.error(`build: ${problems.length} bad specifier(s) in dist/:`);
    for (const p of problems) console.error(`  ${p}`);
    process.exit(1);
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
  for (const target of Object.values(pkg.bin ?? {})) {
    const file = path.join(ROOT, target);
    if (!fs.existsSync(file)) {
      console.error(`build: the bin ${target} was not built`);
      process.exit(1);
    }
    fs.chmodSync(file, 0o755);
  }
  if (!quiet) {
    const js = files.filter((f) => f.endsWith(".js")).length;
    const dts = files.filter((f) => f.endsWith(".d.ts")).length;
    console.log(
      `build: dist/ has ${js} .js and ${dts} .d.ts files; ${rewritten} .d.ts specifier(s) rewritten .ts -> .js (${Date.now() - started} ms)`,
    );
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
