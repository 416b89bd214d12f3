#!/usr/bin/env node
// Summarizes a V8 .cpuprofile (from `node --cpu-prof` or `deno run --cpu-prof`): the top
// functions by self time and by total (inclusive) time, and self time per source file.
//
//   node bench/cpuprofile_top.mjs FILE.cpuprofile [--top N] [--filter TEXT]
//
//   --top N        rows per table (default 25)
//   --filter TEXT  also list the functions whose URL contains TEXT (e.g. /work/main/core/)

import fs from "node:fs";
import process from "node:process";

const args = process.argv.slice(2);
let file;
let top = 25;
const filters = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--top") top = Number(args[++i]);
  else if (args[i] === "--filter") filters.push(args[++i]);
  else file = args[i];
}
if (!file) {
  console.error("usage: node bench/cpuprofile_top.mjs FILE.cpuprofile [--top N] [--filter TEXT]");
  process.exit(2);
}

const profile = JSON.parse(fs.readFileSync(file, "utf8"));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

// Self time per node, from the samples and their time deltas (microseconds).
const self = new Map();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const delta = profile.timeDeltas[i] ?? 0;
  self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + delta);
  total += delta;
}

const short = (url) => url.replace(/^file:\/\//, "").replace(/^.*\/work\/main\//, "").replace(/^node:internal\//, "node:");
const keyOf = (node) => {
  const frame = node.callFrame;
  const where = frame.url ? `${short(frame.url)}:${frame.lineNumber + 1}` : "";
  return `${frame.functionName || "(anonymous)"} ${where}`.trim();
};

// Self and inclusive time per function (inclusive counted once per sample, even in recursion).
const selfBy = new Map();
const inclusiveBy = new Map();
const fileSelf = new Map();
for (const [id, time] of self) {
  const node = byId.get(id);
  const key = keyOf(node);
  selfBy.set(key, (selfBy.get(key) ?? 0) + time);
  const url = node.callFrame.url ? short(node.callFrame.url) : `(${node.callFrame.functionName || "native"})`;
  fileSelf.set(url, (fileSelf.get(url) ?? 0) + time);
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const k = keyOf(byId.get(at));
    if (seen.has(k)) continue;
    seen.add(k);
    inclusiveBy.set(k, (inclusiveBy.get(k) ?? 0) + time);
  }
}

const ms = (us) => (us / 1000).toFixed(1).padStart(9);
const pct = (us) => ((100 * us) / total).toFixed(1).padStart(6);
function table(title, map, n, predicate = () => true) {
  console.log(`\n${title}`);
  console.log(`${"ms".padStart(9)} ${"%".padStart(6)}  function`);
  const rows = [...map].filter(([key]) => predicate(key)).sort((a, b) => b[1] - a[1]).slice(0, n);
  for (const [key, time] of rows) console.log(`${ms(time)} ${pct(time)}  ${key}`);
}

console.log(`${file}: ${(total / 1000).toFixed(1)} ms sampled, ${profile.samples.length} samples`);
table("top self time", selfBy, top);
table("top total (inclusive) time", inclusiveBy, top);
table("self time per file", fileSelf, top);
for (const filter of filters) {
  table(`self time, functions matching ${filter}`, selfBy, 1000, (key) => key.includes(filter));
  table(`total time, functions matching ${filter}`, inclusiveBy, 1000, (key) => key.includes(filter));
}
