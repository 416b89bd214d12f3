/**
 * Host patterns of `tcp://` and `udp://` rules: `*`, an IP address, a CIDR pool,
 * `localhost` (the loopback addresses), a name, or `*.` and a domain.
 *
 * @module
 */
import ipaddr from "ipaddr.js";
import { isAmbiguousIpv4, parseIp } from "../../core/address.ts";
import type { IpFamily } from "../../core/address.ts";
import { asciiName } from "../../resolve/names.ts";
import { keyOfIp } from "./keys.ts";

/** An address pool: the words of its network and the prefix length. */
export interface Cidr {
  readonly family: IpFamily;
  readonly words: readonly number[];
  readonly bits: number;
}

/** What a rule's host part allows. */
export type HostPattern =
  | { readonly kind: "any" }
  | { readonly kind: "loopback" }
  | { readonly kind: "address"; readonly address: string }
  | { readonly kind: "cidr"; readonly cidr: Cidr }
  | { readonly kind: "name"; readonly name: string }
  | { readonly kind: "suffix"; readonly suffix: string };

/** The loopback pools `localhost` stands for in a rule: 127.0.0.0/8 and ::1. */
export const LOOPBACK_CIDRS: readonly Cidr[] = [
  { family: "ipv4", words: [0x7f000000], bits: 8 },
  { family: "ipv6", words: [0, 0, 0, 1], bits: 128 },
];

/**
 * Parses a rule's host.
 *
 * @param text What stands between `tcp://` and the last `:`.
 * @returns The pattern, or what is wrong with it.
 */
export function parseHost(text: string): HostPattern | { problem: string } {
  if (text === "*") return { kind: "any" };
  if (text.includes("/")) return parseCidr(text);
  const literal = parseIp(text);
  if (literal !== undefined) {
    const ip = literal.family === "ipv4" ? ipaddr.IPv4.parse(literal.address) : ipaddr.IPv6.parse(literal.address);
    return { kind: "address", address: keyOfIp(ip, literal.address).canonical };
  }
  if (isAmbiguousIpv4(text)) return { problem: `${JSON.stringify(text)} is not a dotted-quad IPv4 address (write each of the four parts in decimal)` };
  if (text.startsWith("[")) return { problem: `${JSON.stringify(text)} is not an IPv6 address` };
  if (text.startsWith("*.")) {
    const domain = asciiName(text.slice(2));
    return typeof domain === "string" ? { kind: "suffix", suffix: `.${domain}` } : { problem: `${JSON.stringify(text)}: ${domain.problem}` };
  }
  if (text.includes("*")) return { problem: `${JSON.stringify(text)}: * stands alone, or as the first label (*.example.com)` };
  const name = asciiName(text);
  if (typeof name !== "string") return { problem: `${JSON.stringify(text)}: ${name.problem}` };
  return name === "localhost" ? { kind: "loopback" } : { kind: "name", name };
}

/** `10.0.0.0/8`, `fd00::/8`, `[fd00::]/8` or `[fd00::/8]`. */
function parseCidr(text: string): HostPattern | { problem: string } {
  const inner = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const slash = inner.lastIndexOf("/");
  const address = parseIp(inner.slice(0, slash));
  const length = inner.slice(slash + 1);
  const bad = (why: string) => ({ problem: `${JSON.stringify(text)} is not a CIDR pool: ${why}` });
  if (address === undefined) return bad("the address part is not an IP address in canonical spelling");
  if (!/^\d{1,3}$/.test(length)) return bad("the prefix length is not a number");
  const prefix = `${address.address}/${length}`;
  if (!ipaddr.isValidCIDR(prefix)) return bad(`a ${address.family} prefix length is at most ${address.family === "ipv4" ? 32 : 128}`);
  const [ip, bits] = ipaddr.parseCIDR(prefix);
  const network = ip.kind() === "ipv4"
    ? ipaddr.IPv4.networkAddressFromCIDR(prefix)
    : ipaddr.IPv6.networkAddressFromCIDR(prefix);
  if (network.toString() !== ip.toString()) return bad(`bits are set past the prefix (the pool starts at ${network.toString()})`);
  const key = keyOfIp(ip, address.address);
  // An IPv4-mapped pool is the IPv4 pool it maps: ::ffff:10.0.0.0/104 is 10.0.0.0/8.
  if (key.family === "ipv4" && ip.kind() === "ipv6") {
    if (bits < 96) return bad("it covers IPv4-mapped addresses and more: write the IPv4 pool and the IPv6 pool apart");
    return { kind: "cidr", cidr: { family: "ipv4", words: key.words, bits: bits - 96 } };
  }
  return { kind: "cidr", cidr: { family: key.family, words: key.words, bits } };
}

/**
 * True when `words` (an address of the pool's family) is in the pool.
 *
 * @param cidr The pool.
 * @param words The address's words.
 */
export function inCidr(cidr: Cidr, words: readonly number[]): boolean {
  let left = cidr.bits;
  for (let i = 0; i < cidr.words.length && left > 0; i++, left -= 32) {
    const mask = left >= 32 ? 0xffffffff : ~(0xffffffff >>> left);
    if (((words[i] ^ cidr.words[i]) & mask) !== 0) return false;
  }
  return true;
}
