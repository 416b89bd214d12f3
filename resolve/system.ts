/**
 * The `"system"` resolver: the runtime's own lookup, normalised. Where the runtime's
 * lookup ignores `/etc/hosts` (Deno's `resolveDns`), the hosts file is read first, so
 * every runtime gives the same answers. When the runtime's lookup is missing or fails
 * for a reason other than the name's own, the fallback resolver (a `WireResolver`) answers.
 *
 * @module
 */
import type { IpAddress } from "../core/address.ts";
import type { Driver, LookupFamily } from "../core/driver.ts";
import { SocketError } from "../core/errors.ts";
import type { Resolver } from "./resolve.ts";
import { readTextFile } from "./wire/config.ts";
import { lookupHosts, parseHostsFile } from "./wire/hosts.ts";
import type { HostsTable } from "./wire/hosts.ts";

const HOSTS_FILE = "/etc/hosts";
const HOSTS_RELOAD_MS = 5_000;

let hostsCache: { table: Promise<HostsTable>; read: number } | undefined;

/** `/etc/hosts`, re-read at most every few seconds. */
function systemHosts(): Promise<HostsTable> {
  const now = Date.now();
  if (hostsCache === undefined || now - hostsCache.read > HOSTS_RELOAD_MS) {
    hostsCache = { table: readTextFile(HOSTS_FILE).then((text) => parseHostsFile(text ?? "")), read: now };
  }
  return hostsCache.table;
}

/** True when the failure says nothing about the name itself (the resolver is missing or broken). */
function resolverBroken(error: unknown): boolean {
  return error instanceof SocketError && (error.code === "temporary-resolver-failure" || error.code === "not-supported");
}

/**
 * The system resolver over `driver`, with `fallback` for when it is missing or broken.
 *
 * @param driver The runtime's driver.
 * @param fallback Asked when the runtime's lookup fails for a reason not the name's own.
 * @returns The resolver.
 */
export function systemResolver(driver: Driver, fallback: () => Resolver): Resolver {
  return {
    async resolve(name: string, family: LookupFamily, signal?: AbortSignal): Promise<IpAddress[]> {
      if (!driver.lookupReadsHosts) {
        const known = lookupHosts(await systemHosts(), name, family);
        if (known.length > 0) return known;
      }
      try {
        return await driver.lookup(name, family);
      } catch (error) {
        if (!resolverBroken(error)) throw error;
        return fallback().resolve(name, family, signal);
      }
    },
  };
}
