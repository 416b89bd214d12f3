/**
 * Hosts tables: `/etc/hosts` and the wire resolver's `hosts` option.
 *
 * @module
 */
import { describeValue, parseIp } from "../../core/address.ts";
import type { IpAddress } from "../../core/address.ts";
import { socketError } from "../../core/errors.ts";
import { normalizeName } from "../names.ts";

/**
 * Names to addresses, as a hosts file gives them. Names are lower-case ASCII without a
 * trailing dot; addresses are canonical, in order of appearance, without duplicates.
 *
 * @example Using `HostsTable`
 * ```ts
 * import type { HostsTable } from "./hosts.ts";
 * const table: HostsTable = new Map([["db.example", ["203.0.113.5"]]]);
 * console.log(table.get("db.example")); // ["203.0.113.5"]
 * ```
 */
export type HostsTable = ReadonlyMap<string, readonly IpAddress[]>;

function add(table: Map<string, IpAddress[]>, name: string, address: IpAddress): void {
  const addresses = table.get(name);
  if (addresses === undefined) table.set(name, [address]);
  else if (!addresses.includes(address)) addresses.push(address);
}

/**
 * Parses a hosts file: lines of `ADDRESS NAME [ALIASES...]` separated by spaces or
 * tabs, comments from `#`. Lines with an unusable address, and unusable names, are
 * skipped; a name may collect addresses from several lines.
 *
 * @param text The file's content.
 * @returns The table.
 *
 * @example Using `parseHostsFile`
 * ```ts
 * import { parseHostsFile } from "./hosts.ts";
 * const table = parseHostsFile("127.0.0.1 localhost\n2001:db8::5 db.example db # backup\n");
 * console.log(table.get("db")); // ["2001:db8::5"]
 * ```
 */
export function parseHostsFile(text: string): HostsTable {
  const table = new Map<string, IpAddress[]>();
  for (const line of text.split(/\r?\n/)) {
    const [address, ...names] = line.replace(/#.*/, "").trim().split(/[ \t]+/);
    const ip = address.startsWith("[") ? undefined : parseIp(address);
    if (ip === undefined) continue;
    for (const name of names) {
      try {
        // A name that is itself an IP literal is never looked up, so it is not kept.
        if (parseIp(name) === undefined) add(table, normalizeName(name, "hosts"), ip.address);
      } catch {
        // Skip a name that cannot be a host name; the rest of the line still counts.
      }
    }
  }
  return table;
}

/**
 * Builds a table from the `hosts` option form, `{ "name": ["address", ...] }`.
 *
 * @param table Names to IP literals.
 * @returns The table, names normalized and addresses canonical.
 * @throws {SocketError} `invalid-argument` naming the bad name or address.
 *
 * @example Using `hostsFromObject`
 * ```ts
 * import { hostsFromObject } from "./hosts.ts";
 * const table = hostsFromObject({ "API.example.": ["203.0.113.7", "2001:DB8::7"] });
 * console.log(table.get("api.example")); // ["203.0.113.7", "2001:db8::7"]
 * ```
 */
export function hostsFromObject(table: Record<string, readonly string[]>): HostsTable {
  if (typeof table !== "object" || table === null || Array.isArray(table)) {
    throw socketError("invalid-argument", "WireResolver hosts", "", `must be an object, got ${describeValue(table)}`);
  }
  const result = new Map<string, IpAddress[]>();
  for (const [name, addresses] of Object.entries(table)) {
    const ascii = normalizeName(name, "WireResolver hosts");
    const invalid = (detail: string) =>
      socketError("invalid-argument", "WireResolver hosts", describeValue(name), detail);
    if (!Array.isArray(addresses)) throw invalid(`addresses must be an array, got ${describeValue(addresses)}`);
    if (!result.has(ascii)) result.set(ascii, []);
    for (const address of addresses) {
      const ip = typeof address === "string" && !address.startsWith("[") ? parseIp(address) : undefined;
      if (ip === undefined) throw invalid(`${describeValue(address)} is not an IP address`);
      add(result, ascii, ip.address);
    }
  }
  return result;
}

/**
 * The addresses a table gives a name, of one family or both, in table order.
 *
 * @param table The table.
 * @param name The name; case and a trailing dot do not matter.
 * @param family Which addresses to return.
 * @returns The addresses, `[]` when there are none.
 *
 * @example Using `lookupHosts`
 * ```ts
 * import { lookupHosts, parseHostsFile } from "./hosts.ts";
 * const table = parseHostsFile("198.51.100.1 web.example\n2001:db8::1 web.example\n");
 * console.log(lookupHosts(table, "web.example", "ipv6")); // ["2001:db8::1"]
 * ```
 */
export function lookupHosts(table: HostsTable, name: string, family: "ipv4" | "ipv6" | "any"): IpAddress[] {
  const key = (name.endsWith(".") ? name.slice(0, -1) : name).toLowerCase();
  const addresses = table.get(key) ?? [];
  if (family === "any") return [...addresses];
  return addresses.filter((address) => address.includes(":") === (family === "ipv6"));
}
