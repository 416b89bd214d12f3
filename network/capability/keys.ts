/**
 * What the rules compare, computed once per distinct input and memoised: an address's
 * canonical text and bits (IPv4-mapped IPv6 as its IPv4 address), and a name's
 * IDNA/lower-case/no-trailing-dot form. Parsing is `ipaddr.js`'s and `asciiName`'s;
 * the memo keeps it off the path of a repeated check.
 *
 * @module
 */
import ipaddr from "ipaddr.js";
import { parseIp } from "../../core/address.ts";
import type { IpFamily } from "../../core/address.ts";
import { asciiName } from "../../resolve/names.ts";

/** An address as the rules see it. */
export interface AddressKey {
  /** Canonical text; an IPv4-mapped address as its dotted quad. */
  readonly canonical: string;
  /** The family after unmapping. */
  readonly family: IpFamily;
  /** IPv4: the address as an unsigned 32-bit number. IPv6: four 32-bit words, high first. */
  readonly words: readonly number[];
}

const MEMO_SIZE = 4096;
const addressMemo = new Map<string, AddressKey | null>();
const nameMemo = new Map<string, string>();

/**
 * The key of an IP address written canonically (as `parseIp` gives it). Anything else,
 * such as `127.1` or a name, has no key: rules never match it.
 *
 * @param address The address text.
 * @returns The key, or undefined.
 */
export function addressKey(address: string): AddressKey | undefined {
  const known = addressMemo.get(address);
  if (known !== undefined) return known ?? undefined;
  const key = computeAddressKey(address);
  remember(addressMemo, address, key ?? null);
  return key;
}

/**
 * The key of a parsed `ipaddr.js` address: unmapped, with its words.
 *
 * @param ip The address.
 * @param canonical The canonical text of an IPv6 address that is not IPv4-mapped.
 * @returns The key.
 */
export function keyOfIp(ip: ipaddr.IPv4 | ipaddr.IPv6, canonical: string): AddressKey {
  if (ip.kind() === "ipv6" && (ip as ipaddr.IPv6).isIPv4MappedAddress()) {
    const v4 = (ip as ipaddr.IPv6).toIPv4Address();
    return { canonical: v4.toString(), family: "ipv4", words: wordsOf(v4.toByteArray()) };
  }
  return { canonical, family: ip.kind() as IpFamily, words: wordsOf(ip.toByteArray()) };
}

function computeAddressKey(address: string): AddressKey | undefined {
  // Only canonical text is a request's address: a different spelling is not compared.
  if (!address.includes(":")) {
    // ipaddr.js also reads `127.1` or `0x7f.0.0.1`; printing back tells the canonical quad.
    let ip: ipaddr.IPv4;
    try {
      ip = ipaddr.IPv4.parse(address);
    } catch {
      return undefined;
    }
    return ip.toString() === address ? keyOfIp(ip, address) : undefined;
  }
  const parsed = parseIp(address);
  if (parsed === undefined || parsed.address !== address) return undefined;
  return keyOfIp(ipaddr.IPv6.parse(address), address);
}

/** Bytes (4 or 16) as 32-bit unsigned words, high first. */
export function wordsOf(bytes: readonly number[]): number[] {
  const words: number[] = [];
  for (let i = 0; i < bytes.length; i += 4) {
    words.push(((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0);
  }
  return words;
}

/**
 * The form names are compared in: IDNA (UTS 46), lower case, no trailing dot; "" for
 * anything that is not a valid host name (an IP literal among them).
 *
 * @param text The name as written.
 * @returns The name, or "".
 */
export function nameKey(text: string): string {
  const known = nameMemo.get(text);
  if (known !== undefined) return known;
  const ascii = parseIp(text) === undefined ? asciiName(text) : "";
  const key = typeof ascii === "string" ? ascii : "";
  remember(nameMemo, text, key);
  return key;
}

function remember<V>(memo: Map<string, V>, key: string, value: V): void {
  if (memo.size >= MEMO_SIZE) memo.clear();
  memo.set(key, value);
}
