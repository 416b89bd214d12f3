/**
 * The options of `WireResolver`, and their checks.
 *
 * @module
 */
import { describeValue } from "../../core/address.ts";
import { socketError } from "../../core/errors.ts";
import { normalizeName } from "../names.ts";
import { checkTlsClient } from "../../core/tls.ts";
import { parseServer } from "./config.ts";

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
 *
 * @example DNS over TLS and DNS over HTTPS, trusting only a private CA
 * ```ts ignore
 * import type { WireResolverOptions } from "./options.ts";
 * const options: WireResolverOptions = {
 *   nameservers: ["tls://192.0.2.53#dns.example", "https://192.0.2.53/dns-query#dns.example"],
 *   ca: await Deno.readTextFile("ca.pem"),
 * };
 * ```
 */
export interface WireResolverOptions {
  /**
   * Servers to ask: `"127.0.0.1"`, `"127.0.0.1:5353"`, `"[::1]:5353"` (UDP, TCP when
   * truncated); `"tls://HOST[:PORT][#NAME]"` (DNS over TLS, port 853 by default);
   * `"https://HOST[:PORT]/PATH[#NAME]"` (DNS over HTTPS over HTTP/2, port 443 by default).
   * HOST is an IP address (IPv6 in brackets) or a name the system resolver resolves; the
   * server's certificate must carry NAME (default HOST). An encrypted server is never
   * asked in plaintext.
   */
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
  /**
   * The most UDP queries one socket carries before a fresh one (a new random port) takes
   * over; default 100. Sockets are shared by the resolvers of a runtime and closed after
   * about a second idle.
   */
  maxQueriesPerSocket?: number;
  /**
   * PEM: the only issuers trusted for the certificates of `tls://` and `https://` servers.
   * Without it, the runtime's own trust store.
   */
  ca?: string | string[];
}

/**
 * Checks options, throwing `invalid-argument` naming the bad one.
 *
 * @param options The options as given.
 * @returns Them normalised.
 *
 * @example Using `checkWireOptions`
 * ```ts
 * import { checkWireOptions } from "./options.ts";
 * console.log(checkWireOptions({ search: ["Corp.Example"] }).search); // ["corp.example"]
 * ```
 */
export function checkWireOptions(options: WireResolverOptions): WireResolverOptions {
  const operation = "WireResolver";
  if (typeof options !== "object" || options === null) {
    throw socketError("invalid-argument", operation, "", "options must be an object");
  }
  const bad = (option: string, value: unknown, want: string) =>
    socketError("invalid-argument", operation, "", `${option} must be ${want}, got ${describeValue(value)}`);
  const { nameservers, hosts, search, ndots, timeout, attempts, rotate, cacheSize, ca, maxQueriesPerSocket } = options;
  if (nameservers !== undefined) {
    if (!Array.isArray(nameservers) || nameservers.length === 0) throw bad("nameservers", nameservers, "a non-empty array");
    nameservers.forEach((server) => parseServer(server));
  }
  // The PEM checks of tcp.connect's tls.ca (the host name only satisfies the check).
  if (ca !== undefined) {
    try {
      checkTlsClient({ ca }, "localhost", operation);
    } catch (error) {
      const detail = error instanceof Error ? error.message.replace(/^.*?tls\.ca/, "ca") : String(error);
      throw socketError("invalid-argument", operation, "", detail);
    }
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
  integer("maxQueriesPerSocket", maxQueriesPerSocket, 1, 65_535);
  if (rotate !== undefined && typeof rotate !== "boolean") throw bad("rotate", rotate, "a boolean");
  return { ...options, search: checkedSearch };
}
