/**
 * The options of `WireResolver`, and their checks.
 *
 * @module
 */
import { describeValue } from "../../core/address.ts";
import { socketError } from "../../core/errors.ts";
import { normalizeName } from "../names.ts";
import { parseNameServer } from "./config.ts";

/**
 * How a `WireResolver` is set up. Whatever is left out comes from `/etc/resolv.conf`
 * and `/etc/hosts`.
 *
 * @example Everything explicit: no system files read
 * ```ts
 * import type { WireResolverOptions } from "./options.ts";
 * const options: WireResolverOptions = {
 *   nameservers: ["127.0.0.1:5353", "[::1]:5353"],
 *   hosts: { "db.test": ["203.0.113.5"] },
 *   search: ["test"],
 *   ndots: 1,
 *   timeout: 1000,
 *   attempts: 2,
 *   rotate: false,
 *   cacheSize: 500,
 * };
 * console.log(options.nameservers);
 * ```
 */
export interface WireResolverOptions {
  /** Servers to ask: `"127.0.0.1"`, `"127.0.0.1:5353"`, `"[::1]:5353"`. */
  nameservers?: string[];
  /** A hosts file path, or a table `{ name: [addresses] }`; `{}` means none. */
  hosts?: string | Record<string, string[]>;
  /** Domains appended to names with fewer than `ndots` dots. */
  search?: string[];
  /** Dots a name needs to be tried as is first. */
  ndots?: number;
  /** Milliseconds to wait for one answer (doubled on each further attempt). */
  timeout?: number;
  /** Rounds over the servers. */
  attempts?: number;
  /** Spread queries over the servers instead of always asking the first. */
  rotate?: boolean;
  /** The most answers cached; 0 turns the cache off. */
  cacheSize?: number;
}

/** Checks options, throwing `invalid-argument` naming the bad one; returns them normalised. */
export function checkWireOptions(options: WireResolverOptions): WireResolverOptions {
  const operation = "WireResolver";
  if (typeof options !== "object" || options === null) {
    throw socketError("invalid-argument", operation, "", "options must be an object");
  }
  const bad = (option: string, value: unknown, want: string) =>
    socketError("invalid-argument", operation, "", `${option} must be ${want}, got ${describeValue(value)}`);
  const { nameservers, hosts, search, ndots, timeout, attempts, rotate, cacheSize } = options;
  if (nameservers !== undefined) {
    if (!Array.isArray(nameservers) || nameservers.length === 0) throw bad("nameservers", nameservers, "a non-empty array");
    nameservers.forEach((server) => parseNameServer(server));
  }
  if (hosts !== undefined && typeof hosts !== "string" && (typeof hosts !== "object" || hosts === null)) {
    throw bad("hosts", hosts, "a path or an object");
  }
  if (search !== undefined && !Array.isArray(search)) throw bad("search", search, "an array of domains");
  const checkedSearch = search?.map((domain) => normalizeName(domain, operation));
  const integer = (option: string, value: number | undefined, min: number, max: number) => {
    if (value !== undefined && (!Number.isInteger(value) || value < min || value > max)) {
      throw bad(option, value, `an integer from ${min} to ${max}`);
    }
  };
  integer("ndots", ndots, 0, 15);
  integer("timeout", timeout, 1, 60_000);
  integer("attempts", attempts, 1, 10);
  integer("cacheSize", cacheSize, 0, 1_000_000);
  if (rotate !== undefined && typeof rotate !== "boolean") throw bad("rotate", rotate, "a boolean");
  return { ...options, search: checkedSearch };
}
