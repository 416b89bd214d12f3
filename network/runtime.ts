/**
 * Which runtime this is, decided once.
 *
 * @module
 */
import type { DriverName } from "../core/driver.ts";

/** The runtime the code runs on: Deno and Bun are recognised by their globals, else Node. */
export function detectRuntime(): DriverName {
  const global = globalThis as { Deno?: unknown; Bun?: unknown };
  if (global.Deno !== undefined) return "deno";
  if (global.Bun !== undefined) return "bun";
  return "node";
}
