/**
 * The cost of a capability check: `RulePolicy.check` (what every operation of a handle
 * made by `createNetwork` asks before any system call) with 100 rules, for requests it
 * allows and requests it denies. Measured with tinybench; the goal is under 1 µs a check.
 *
 *   node bench/policy.ts [--time MS] [--batch N] [--json]
 *   deno run -A bench/policy.ts [...]
 *   bun bench/policy.ts [...]
 *
 * Options:
 *   --time MS      time budget of each task (default 1000)
 *   --batch N      checks per sample (default 1000)
 *   --json         print one JSON line with the figures instead of the table (BENCH_JSON=1);
 *                  the table then goes to stderr
 *
 * The 100 rules: 30 IPv4 addresses, 10 IPv6 addresses, 20 IPv4 pools with port ranges,
 * 10 IPv6 pools, 15 names, 10 domains (`*.zone.example`), 5 UDP pools. A denied address
 * is looked up in the exact map and then tried against every pool of its family; a
 * denied name after that against the names and domains. Each sample runs `--batch`
 * checks (default 1000) over a few requests in turn, and ns/check = sample mean / batch.
 *
 * "first sight" tasks check addresses or names never seen before (each check a new one),
 * so the memo of parsed addresses and normalised names misses every time: that is the
 * cost of the first check of a destination; later ones cost what the other tasks show.
 *
 * @module
 */
import process from "node:process";
import { Bench } from "tinybench";
import { parseIp } from "../core/address.ts";
import type { ParsedIp } from "../core/address.ts";
import { RulePolicy } from "../network/capability/compiled.ts";
import type { AccessRequest } from "../network/policy.ts";

const GOAL_NS = 1000;

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  const value = index === -1 ? fallback : Number(process.argv[index + 1]);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`usage: policy.ts [--time MS] [--batch N] [--json]`);
    process.exit(2);
  }
  return value;
}

const json = process.argv.includes("--json") || process.env.BENCH_JSON === "1" || process.env.BENCH_JSON === "true";
/** The human lines: stdout, or stderr under --json (the JSON line is then the last line of stdout). */
const print = json ? (line: string) => console.error(line) : (line: string) => console.log(line);

const globals = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
const runtime = globals.Deno !== undefined ? "deno" : globals.Bun !== undefined ? "bun" : "node";
const version = globals.Deno?.version.deno ?? globals.Bun?.version ?? process.versions.node;

/** The 100 rules. */
function rules(): string[] {
  const list: string[] = [];
  for (let i = 0; i < 30; i++) list.push(`tcp://10.${i}.0.1:5432`);
  for (let i = 0; i < 10; i++) list.push(`tcp://[2001:db8::${i + 1}]:443`);
  for (let i = 0; i < 20; i++) list.push(`tcp://172.${16 + i}.0.0/16:8000-8100`);
  for (let i = 0; i < 10; i++) list.push(`tcp://[fd00:${i + 1}::]/32:*`);
  for (let i = 0; i < 15; i++) list.push(`tcp://svc${i}.internal:443`);
  for (let i = 0; i < 10; i++) list.push(`tcp://*.zone${i}.example:443`);
  for (let i = 0; i < 5; i++) list.push(`udp://10.${100 + i}.0.0/16:53`);
  return list;
}

function ip(text: string): ParsedIp {
  const parsed = parseIp(text);
  if (parsed === undefined) throw new Error(text);
  return parsed;
}

const tcp = (address: string, port: number, hostname = address): AccessRequest => ({
  kind: "outbound",
  protocol: "tcp",
  address: ip(address),
  port,
  hostname,
});

const ALLOWED: AccessRequest[] = [
  tcp("10.29.0.1", 5432), // exact IPv4 (the last one)
  tcp("::ffff:10.7.0.1", 5432), // IPv4-mapped, exact
  tcp("172.35.200.1", 8050), // the last IPv4 pool
  tcp("fd00:10::1", 9), // the last IPv6 pool
  tcp("192.0.2.10", 443, "svc14.internal"), // a name
  tcp("192.0.2.11", 443, "a.b.zone9.example"), // a domain
];

const DENIED: AccessRequest[] = [
  tcp("192.0.2.1", 5432), // no IPv4 rule: every pool tried
  tcp("2001:db8:ffff::1", 443), // no IPv6 rule
  tcp("10.29.0.1", 5433), // the address, another port
  tcp("192.0.2.12", 443, "evil.example"), // a name no rule names
  tcp("192.0.2.13", 443, "zone9.example"), // the domain itself, not under it
  tcp("::ffff:192.0.2.1", 5432), // mapped, denied
];

function batched(batch: number, requests: AccessRequest[], policy: RulePolicy, expectAllowed: boolean): () => void {
  return () => {
    let allowed = 0;
    for (let i = 0; i < batch; i++) if (policy.check(requests[i % requests.length]) === undefined) allowed++;
    if (allowed !== (expectAllowed ? batch : 0)) throw new Error(`expected every check to be ${expectAllowed ? "allowed" : "denied"}`);
  };
}

/** Requests never seen before: a new address (and name) each time. */
function firstSight(batch: number, policy: RulePolicy, byName: boolean): () => void {
  let n = 0;
  return () => {
    for (let i = 0; i < batch; i++, n++) {
      const address = `198.${18 + ((n >>> 16) & 1)}.${(n >>> 8) & 255}.${n & 255}`;
      const request = tcp(address, 443, byName ? `h${n}.zone3.example` : address);
      const allowed = policy.check(request) === undefined;
      if (allowed !== byName) throw new Error("unexpected decision");
    }
  };
}

async function main(): Promise<void> {
  const time = option("--time", 1000);
  const batch = option("--batch", 1000);
  const policy = new RulePolicy({ resolve: [], outbound: rules(), inbound: [] }, "bench");
  const bench = new Bench({ name: "policy", time, warmupTime: 200, throws: true });
  bench.add("allowed (6 kinds in turn)", batched(batch, ALLOWED, policy, true));
  bench.add("denied (6 kinds in turn)", batched(batch, DENIED, policy, false));
  bench.add("allowed, first sight (name under a domain)", firstSight(batch, policy, true));
  bench.add("denied, first sight (IPv4 address)", firstSight(batch, policy, false));
  await bench.run();

  const rows = bench.tasks.map((task) => {
    const result = task.result;
    if (result.state !== "completed") throw new Error(`task ${task.name}: ${result.state}`);
    return { name: task.name, ns: (result.latency.mean * 1e6) / batch, rme: result.latency.rme, samples: result.latency.samplesCount };
  });
  const width = Math.max(...rows.map((row) => row.name.length)) + 2;
  print(`policy check, 100 rules, ${runtime} ${version}, ${batch} checks per sample`);
  print(`${"task".padEnd(width)}${"ns/check".padStart(10)}${"±rme %".padStart(9)}${"samples".padStart(9)}`);
  for (const row of rows) {
    print(`${row.name.padEnd(width)}${row.ns.toFixed(1).padStart(10)}${row.rme.toFixed(2).padStart(9)}${String(row.samples).padStart(9)}`);
  }
  const [allowed, denied, firstAllowed, firstDenied] = rows;
  const verdict = allowed.ns < GOAL_NS && denied.ns < GOAL_NS ? "under" : "OVER";
  const summary = `policy ${runtime} ${version}: allowed ${allowed.ns.toFixed(0)} ns/check, denied ${denied.ns.toFixed(0)} ns/check ` +
    `(${verdict} the ${GOAL_NS} ns goal); first sight: allowed ${firstAllowed.ns.toFixed(0)}, denied ${firstDenied.ns.toFixed(0)} ns/check`;
  print(summary);
  if (json) {
    const ns = (value: number) => Math.round(value * 10) / 10;
    console.log(JSON.stringify({
      bench: "policy",
      runtime,
      version,
      allowedNs: ns(allowed.ns),
      deniedNs: ns(denied.ns),
      firstAllowedNs: ns(firstAllowed.ns),
      firstDeniedNs: ns(firstDenied.ns),
      goalNs: GOAL_NS,
      summary,
    }));
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
