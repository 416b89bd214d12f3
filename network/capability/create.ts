/**
 * `createNetwork`: a handle to the network that allows only what its rules say.
 *
 * @module
 */
import { describeValue } from "../../core/address.ts";
import { socketError } from "../../core/errors.ts";
import { Network } from "../network.ts";
import { runtimeDriver } from "../runtime_driver.ts";
import type { Resolver } from "../../resolve/resolve.ts";
import { RulePolicy } from "./compiled.ts";
import type { NetworkPolicyInit } from "./rules.ts";

/**
 * Options of {@linkcode createNetwork}.
 *
 * @example Names from a fixed table, no DNS
 * ```ts
 * import { WireResolver } from "../../mod.ts";
 * import type { CreateNetworkOptions } from "./create.ts";
 * const options: CreateNetworkOptions = {
 *   resolver: new WireResolver({ nameservers: ["127.0.0.1:9"], hosts: { "db.internal": ["127.0.0.1"] } }),
 * };
 * console.log(typeof options.resolver);
 * ```
 */
export interface CreateNetworkOptions {
  /**
   * The resolver of the handle: `"system"` (the default), `"wire"`, or a `Resolver`.
   * Every name the handle's operations resolve (`tcp.connect` by name, a name given to
   * `tcp.listen` or `udp.bind`, and `resolveAddresses` without a `resolver` option) goes
   * through it, so a rule naming a host allows the addresses this resolver gives.
   * Handles made with `restrict` keep it.
   */
  resolver?: "system" | "wire" | Resolver;
}

/**
 * Makes a handle to the network that allows only what `policy` allows, to give to code
 * that should have some network access and no more. With no rules it allows nothing:
 * every operation fails with `access-denied`, decided before any system call or query,
 * with a message naming the operation, the target and the flag that would allow it.
 *
 * Rules follow the flags of the WASI sockets proposal; see `NetworkRules` for their
 * forms. The handle limits what is done through it: it is not a sandbox, as code that
 * imports unisock or the runtime's own modules can still reach the ambient network.
 *
 * @param policy Rules in object form (`{ resolve, outbound, inbound }`) or flag strings.
 * @param options The handle's resolver.
 * @returns The handle.
 *
 * @example Give a client one database and nothing else
 * ```ts
 * import { createNetwork, SocketError } from "../../mod.ts";
 * const network = createNetwork({ outbound: ["tcp://db.internal:5432"] });
 * try {
 *   await network.tcp.connect({ hostname: "203.0.113.9", port: 80 });
 * } catch (error) {
 *   if (error instanceof SocketError) console.log(error.code); // "access-denied"
 * }
 * ```
 */
export function createNetwork(policy: NetworkPolicyInit = {}, options: CreateNetworkOptions = {}): Network {
  const operation = "createNetwork";
  if (typeof options !== "object" || options === null) {
    throw socketError("invalid-argument", operation, "", `options must be an object, got ${describeValue(options)}`);
  }
  const { resolver } = options;
  const valid = resolver === undefined || resolver === "system" || resolver === "wire" ||
    (typeof resolver === "object" && resolver !== null && typeof resolver.resolve === "function");
  if (!valid) throw socketError("invalid-argument", operation, "", `resolver must be "system", "wire" or a Resolver`);
  return new Network(runtimeDriver, new RulePolicy(policy, operation), undefined, resolver);
}
