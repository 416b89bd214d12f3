/**
 * What the benches share: which runtime runs them, option parsing helpers, the clock,
 * medians, and a clean exit. Not a bench itself.
 *
 * @module
 */
import process from "node:process";
import { setTimeout as timerFor } from "node:timers";
import type { BunApi } from "../bun/bun_api.ts";
import type { DenoApi } from "../deno/deno_api.ts";

export type Runtime = "node" | "deno" | "bun";

/** The runtime globals, typed with the small local interfaces of the drivers. */
export const globals = globalThis as unknown as {
  Deno?: DenoApi & { version: { deno: string } };
  Bun?: BunApi & { version: string };
};

export const runtime: Runtime = globals.Deno !== undefined ? "deno" : globals.Bun !== undefined ? "bun" : "node";
export const runtimeVersion: string = globals.Deno?.version.deno ?? globals.Bun?.version ?? process.versions.node;

/** Prints an error (if any) and the usage line, then exits (0 for `--help`, 2 for bad input). */
export type Usage = (message?: string) => never;

/** Makes the usage function of a bench: `usage: BENCH.ts SYNOPSIS`. */
export function makeUsage(bench: string, synopsis: string): Usage {
  return (message?: string): never => {
    if (message !== undefined) console.error(`${bench}: ${message}`);
    console.error(`usage: ${bench}.ts ${synopsis}`);
    process.exit(message === undefined ? 0 : 2);
  };
}

/** Parses a positive number (an integer when `integer`), or calls `usage`. */
export function positive(usage: Usage, name: string, text: string | undefined, integer: boolean): number {
  const value = Number(text);
  if (text === undefined || text === "" || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    usage(`${name} must be a positive ${integer ? "integer" : "number"}, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** `a or b`, `a, b or c`. */
export function alternatives(names: readonly string[]): string {
  return names.length <= 1 ? names.join("") : `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
}

/**
 * Walks `--flag value` / `--flag=value` arguments: `handle(flag, value, arg)` returns
 * false for an unknown flag, which ends the run with the usage line.
 */
export function walkArgs(
  args: string[],
  usage: Usage,
  handle: (flag: string, value: () => string | undefined) => boolean,
): void {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? arg.split("=", 2) : [arg, undefined];
    const value = (): string | undefined => inline ?? args[++i];
    if (flag === "--help" || flag === "-h") usage();
    if (!handle(flag, value)) usage(`unknown argument ${JSON.stringify(arg)}`);
  }
}

/** Wall-clock and CPU (user + system, whole process: both ends and the kernel's work for them) time. */
export interface Sample {
  wallMs: number;
  cpuMs: number;
}

export function clock(): Sample {
  const cpu = process.cpuUsage();
  return { wallMs: performance.now(), cpuMs: (cpu.user + cpu.system) / 1000 };
}

export function since(start: Sample): Sample {
  const now = clock();
  return { wallMs: now.wallMs - start.wallMs, cpuMs: now.cpuMs - start.cpuMs };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export const round1 = (value: number): number => Math.round(value * 10) / 10;
export const round3 = (value: number): number => Math.round(value * 1000) / 1000;
export const pad = (text: string, width: number): string => text.padStart(width);

/** Runs the cleanups a round registered, last first, ignoring their errors. */
export function runCleanups(cleanups: (() => void)[]): void {
  for (const cleanup of cleanups.reverse()) {
    try {
      cleanup();
    } catch {
      // best effort
    }
  }
}

/**
 * Ends the run. Not with `process.exit()` straight away: Node 24 can hang for good inside it
 * when a background compile job is waiting for a GC (nodejs/node#54918; seen here once).
 * Everything is closed by now, so the event loop drains and the process ends by itself;
 * the unref'd timer only forces the exit if some handle stayed open.
 */
export function finish(code: number): void {
  process.exitCode = code;
  timerFor(() => process.exit(code), 3000).unref();
}

/** Runs a bench's `main`, reporting a failure as `BENCH RUNTIME VERSION: FAILED: ...`. */
export function runMain(bench: string, main: () => Promise<void>): void {
  main().then(
    () => finish(0),
    (error: unknown) => {
      console.error(`${bench} ${runtime} ${runtimeVersion}: FAILED:`, error);
      finish(1);
    },
  );
}

/** The rates of each side, one per round, in operations per second. */
export type RoundRates<Side extends string> = Record<Side, number[]>;

/**
 * Measures several sides in alternation: `rounds` rounds, each giving every side `ms` of
 * its own, in an order that rotates from round to round, so a drift of the machine (a
 * noisy neighbour, a frequency change) falls on every side alike. A side is a unit of
 * work that resolves to the operations it did (e.g. 32 lookups); it is repeated until its
 * `ms` are up. Compare sides round by round (`pairedRatio`), not by their totals.
 */
export async function alternateRounds<Side extends string>(
  rounds: number,
  ms: number,
  sides: Record<Side, () => Promise<number>>,
): Promise<RoundRates<Side>> {
  const names = Object.keys(sides) as Side[];
  const rates = Object.fromEntries(names.map((name) => [name, [] as number[]])) as RoundRates<Side>;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length];
      const unit = sides[name];
      const start = performance.now();
      let done = 0;
      let elapsed = 0;
      while ((elapsed = performance.now() - start) < ms) done += await unit();
      rates[name].push(done / (elapsed / 1000));
    }
  }
  return rates;
}

/** The median over rounds of `top[i] / bottom[i]`: a ratio of two sides measured in the same rounds. */
export function pairedRatio(top: number[], bottom: number[]): number {
  if (top.length !== bottom.length || top.length === 0) throw new Error(`pairedRatio: ${top.length} rounds against ${bottom.length}`);
  const ratios = top.map((value, i) => value / bottom[i]);
  if (!ratios.every(Number.isFinite)) throw new Error(`pairedRatio: a round gave no figure (${ratios.join(", ")})`);
  return median(ratios);
}
