/**
 * The ambient network: the module-level functions' handle, over the driver of the
 * runtime this runs on, allowing all the runtime allows.
 *
 * @module
 */
import { Network } from "./network.ts";
import { ALLOW_ALL } from "./policy.ts";
import { runtimeDriver } from "./runtime_driver.ts";

export { loadableDrivers, runtimeDriver } from "./runtime_driver.ts";

/** The handle the module functions use. */
export const ambientNetwork: Network = new Network(runtimeDriver, ALLOW_ALL);
