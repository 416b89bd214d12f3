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
  // The usual answer (one address, or one of each family): no list per family.
  if (addresses.length <= 2) return orderFew(addresses, family);
  const v6: string[] = [];
  const v4: string[] = [];
  // Short lists (the usual answer) are de-duplicated by scanning, long ones with a set.
  const seen = addresses.length > 16 ? new Set<string>() : undefined;
  for (const text of addresses) {
    if (!classify(text, family)) continue;
    const address = kept;
    const list = keptIpv6 ? v6 : v4;
    if (seen === undefined ? list.includes(address) : seen.has(address)) continue;
    seen?.add(address);
    list.push(address);
  }
  if (v4.length === 0) return v6;
  if (v6.length === 0) return v4;
  const ordered: string[] = [];
  for (let i = 0; i < Math.max(v6.length, v4.length); i++) {
    if (i < v6.length) ordered.push(v6[i]);
    if (i < v4.length) ordered.push(v4[i]);
  }
  return ordered;
}

/** {@linkcode orderAddresses} of at most two addresses: the same result, one array. */
function orderFew(addresses: readonly string[], family: LookupFamily): IpAddress[] {
  let first: string | undefined;
  let firstIpv6 = false;
  for (let i = 0; i < addresses.length; i++) {
    if (!classify(addresses[i], family)) continue;
    if (first === undefined) {
      first = kept;
      firstIpv6 = keptIpv6;
    } else if (firstIpv6 !== keptIpv6) {
      // One of each family: IPv6 first.
      return firstIpv6 ? [first, kept] : [kept, first];
    } else {
      return first === kept ? [first] : [first, kept];
    }
  }
  return first === undefined ? [] : [first];
}

/** What the last {@linkcode classify} kept: the canonical address, and whether it is IPv6. */
let kept = "";
let keptIpv6 = false;

/** Whether `text` is an address of a family asked for; if so, sets `kept` and `keptIpv6`. */
function classify(text: string, family: LookupFamily): boolean {
  let ipv6: boolean;
  if (isCanonicalDottedQuad(text)) {
    kept = text;
    ipv6 = false;
  } else {
    const parsed = canonical(text);
    if (parsed === undefined) return false;
    kept = parsed.address;
    ipv6 = parsed.family === "ipv6";
  }
  keptIpv6 = ipv6;
  return family === "any" || ipv6 === (family === "ipv6");
}

/** Whether `text` is a dotted quad in canonical form (no leading zeros, each part at most 255): `parseIp` gives it back as is. */
function isCanonicalDottedQuad(text: string): boolean {
  const length = text.length;
  if (length < 7 || length > 15) return false;
  let parts = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= length; i++) {
    const code = i === length ? 0x2e : text.charCodeAt(i);
    if (code === 0x2e) {
      if (digits === 0 || value > 255 || ++parts > 4) return false;
      value = 0;
      digits = 0;
      continue;
    }
    if (code < 0x30 || code > 0x39) return false;
    if (digits === 1 && value === 0) return false; // a leading zero
    value = value * 10 + code - 0x30;
    digits++;
  }
  return parts === 4;
}

/** Canonical forms of the other addresses met lately (the same ones come back): text → parsed, or null for no address. */
const CANONICAL = new Map<string, ParsedIp | null>();
const CANONICAL_MAX = 1024;

function canonical(text: string): ParsedIp | undefined {
  const known = CANONICAL.get(text);
  if (known !== undefined) return known ?? undefined;
  const parsed = unmap(parseIp(text));
  if (CANONICAL.size >= CANONICAL_MAX) CANONICAL.clear();
  CANONICAL.set(text, parsed ?? null);
  return parsed;
}

function unmap(parsed: ParsedIp | undefined): ParsedIp | undefined {
  if (parsed === undefined || !parsed.address.startsWith("::ffff:") || !parsed.address.includes(".")) return parsed;
  return { address: parsed.address.slice("::ffff:".length), family: "ipv4" };
}
