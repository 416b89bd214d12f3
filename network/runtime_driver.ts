/**
 * The driver for the runtime this runs on, picked once.
 *
 * @module
 */
import { bunDriver } from "../bun/driver.ts";
import { denoDriver } from "../deno/driver.ts";
import { nodeDriver } from "../node/driver.ts";
import type { Driver, DriverName } from "../core/driver.ts";
import { detectRuntime } from "./runtime.ts";

const DRIVERS: Record<DriverName, Driver> = { node: nodeDriver, deno: denoDriver, bun: bunDriver };

/** The driver for this runtime. */
export const runtimeDriver: Driver = DRIVERS[detectRuntime()];

/** Drivers this runtime can load: its own, and Node's through `node:` compatibility. */
export function loadableDrivers(): Driver[] {
  return runtimeDriver === nodeDriver ? [nodeDriver] : [runtimeDriver, nodeDriver];
}
