/**
 * Feeds seeded hostile DNS replies through the wire resolver's decode path and counts
 * what happened. Zero crashes and zero hangs pass: every case decodes or is refused with
 * `permanent-resolver-failure`. `npm test` runs 10,000 cases; this runs more.
 *
 *   node scripts/fuzz_dns.ts [--cases 100000] [--seed 0x5eed1234]
 *   deno run -A scripts/fuzz_dns.ts ...     bun scripts/fuzz_dns.ts ...
 */
import process from "node:process";
import { decodeHostile, fuzzBases, hostileReplies } from "../tests/peers/dns_mutations.ts";

const option = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const cases = option("--cases", 100_000);
const seed = option("--seed", 0x5eed1234);
let decoded = 0;
let refused = 0;
let crashed = 0;
let slowest = 0;
let index = 0;
const started = performance.now();
for (const bytes of hostileReplies(fuzzBases(), cases, seed)) {
  const before = performance.now();
  try {
    if (decodeHostile(bytes) === "decoded") decoded++;
    else refused++;
  } catch (error) {
    crashed++;
    console.error(`case ${index} (seed ${seed}) crashed: ${String(error)}`);
  }
  slowest = Math.max(slowest, performance.now() - before);
  index++;
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `fuzz_dns: ${cases} cases, seed 0x${seed.toString(16)}: decoded ${decoded}, refused ${refused}, crashed ${crashed}; ` +
    `${seconds.toFixed(1)} s, slowest case ${slowest.toFixed(2)} ms`,
);
process.exitCode = crashed === 0 ? 0 : 1;
