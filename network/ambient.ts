/**
 * The ambient network: the module-level functions' handle, over the driver of the
 * runtime this runs on, allowing all the runtime allows. Loading it also makes the
 * runtime's driver the one a `WireResolver` built without a driver uses
 * (`new WireResolver(options)`, the public way): resolve/ cannot import the driver
 * choice, which sits above it. Every public entry point loads this module.
 *
 * @module
 */
import { setDefaultWireDriver } from "../resolve/wire/wire_resolver.ts";
import { Network } from "./network.ts";
import { ALLOW_ALL } from "./policy.ts";
import { runtimeDriver } from "./runtime_driver.ts";

export { loadableDrivers, runtimeDriver } from "./runtime_driver.ts";

setDefaultWireDriver(runtimeDriver);

/** The handle the module functions use. */
export const ambientNetwork: Network = new Network(runtimeDriver, ALLOW_ALL);
