/**
 * The order of resolved addresses: IPv6 and IPv4 interleaved, IPv6 first (RFC 8305 §4),
 * duplicates removed, IPv4-mapped IPv6 turned into IPv4.
 *
 * @module
 */
import { parseIp } from "../core/address.ts";
import type { IpAddress, ParsedIp } from "../core/address.ts";
import type { LookupFamily } from "../core/driver.ts";

/**
 * Canonicalises, filters by family, de-duplicates and interleaves addresses.
 *
 * @param addresses What a resolver answered, in its order.
 * @param family Which families were asked for.
 * @returns The addresses in connection order.
 */
export function orderAddresses(addresses: readonly string[], family: LookupFamily): IpAddress[] {
  const seen = new Set<string>();
  const v6: string[] = [];
  const v4: string[] = [];
  for (const text of addresses) {
    const parsed = unmap(parseIp(text));
    if (parsed === undefined || seen.has(parsed.address)) continue;
    if (family !== "any" && parsed.family !== family) continue;
    seen.add(parsed.address);
    (parsed.family === "ipv6" ? v6 : v4).push(parsed.address);
  }
  const ordered: string[] = [];
  for (let i = 0; i < Math.max(v6.length, v4.length); i++) {
    if (i < v6.length) ordered.push(v6[i]);
    if (i < v4.length) ordered.push(v4[i]);
  }
  return ordered;
}

function unmap(parsed: ParsedIp | undefined): ParsedIp | undefined {
  if (parsed === undefined || !parsed.address.startsWith("::ffff:") || !parsed.address.includes(".")) return parsed;
  return { address: parsed.address.slice("::ffff:".length), family: "ipv4" };
}
