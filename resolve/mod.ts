/**
 * Names in, IP addresses out: `resolveAddresses`, and nothing else of getaddrinfo.
 *
 * @example Resolve a name
 * ```ts
 * import { resolveAddresses } from "./mod.ts";
 * console.log(await resolveAddresses("localhost")); // ["::1", "127.0.0.1"]
 * ```
 *
 * @module
 */
import type { IpAddress } from "../core/address.ts";
import { ambientNetwork } from "../network/ambient.ts";
import type { ResolveOptions } from "./resolve.ts";

export type { Resolver, ResolveOptions } from "./resolve.ts";
// A WireResolver made without a driver uses the runtime's: network/ambient.ts, imported above, sets it.
export { WireResolver } from "./wire/wire_resolver.ts";
export type { WireResolverStats } from "./wire/wire_resolver.ts";
export type { WireResolverOptions } from "./wire/options.ts";
export type { LookupFamily } from "../core/driver.ts";

/**
 * Resolves a host name to IP addresses: IPv6 and IPv4 interleaved, IPv6 first, no
 * duplicates, never empty. An IP literal comes back canonical with no query;
 * `localhost` and `*.localhost` give loopback with no query.
 *
 * @param name A host name (Unicode allowed: converted with IDNA) or an IP literal.
 * @param options `family`, `signal`, `timeout`, `resolver`.
 * @returns The addresses.
 *
 * @example Only IPv4
 * ```ts
 * import { resolveAddresses } from "./mod.ts";
 * console.log(await resolveAddresses("localhost", { family: "ipv4" })); // ["127.0.0.1"]
 * ```
 */
export function resolveAddresses(name: string, options?: ResolveOptions): Promise<IpAddress[]> {
  return ambientNetwork.resolveAddresses(name, options);
}
