/**
 * Address types and their canonical text, built on `ipaddr.js`.
 *
 * @module
 */
import ipaddr from "ipaddr.js";
import { plainIpv6 } from "./ipv6_text.ts";
import { socketError } from "./errors.ts";

/**
 * An IP address in canonical text: a dotted quad, or RFC 5952 IPv6 (`::1`, lower case,
 * a zone only on link-local addresses).
 *
 * @example Using `IpAddress`
 * ```ts
 * import type { IpAddress } from "./address.ts";
 * const loopback: IpAddress = "::1";
 * console.log(loopback);
 * ```
 */
export type IpAddress = string;

/**
 * The family of an IP address.
 *
 * @example Using `IpFamily`
 * ```ts
 * import type { IpFamily } from "./address.ts";
 * const family: IpFamily = "ipv6";
 * console.log(family);
 * ```
 */
export type IpFamily = "ipv4" | "ipv6";

/**
 * An IP address with a port.
 *
 * @example Using `IpSocketAddress`
 * ```ts
 * import type { IpSocketAddress } from "./address.ts";
 * const peer: IpSocketAddress = { address: "127.0.0.1", port: 8080, family: "ipv4" };
 * console.log(peer.port);
 * ```
 */
export interface IpSocketAddress {
  /** The IP address, canonical. */
  address: IpAddress;
  /** The port, 0 to 65535. */
  port: number;
  /** Which IP version `address` is. */
  family: IpFamily;
}

/**
 * A Unix domain socket address: a file path, or a Linux abstract name with a leading `"\0"`.
 *
 * @example Using `UnixSocketAddress`
 * ```ts
 * import type { UnixSocketAddress } from "./address.ts";
 * const server: UnixSocketAddress = { path: "/run/app.sock" };
 * console.log(server.path);
 * ```
 */
export interface UnixSocketAddress {
  /** The socket file path, or `"\0name"` for an abstract name. */
  path: string;
}

/**
 * A Unix socket path for messages: an abstract name as `@name` (as `ss` and
 * `/proc/net/unix` show it), an unnamed socket as `(unnamed)`.
 */
export function formatUnixPath(path: string): string {
  if (path === "") return "(unnamed)";
  return path.startsWith("\0") ? `@${path.slice(1)}` : path;
}

/** Text form of a socket address for messages: `127.0.0.1:80`, `[::1]:80`, `/run/app.sock`, `@name`. */
export function describeSocketAddress(address: IpSocketAddress | UnixSocketAddress): string {
  return "path" in address ? formatUnixPath(address.path) : formatSocketAddress(address);
}

/** A parsed IP literal in canonical form with its family. */
export interface ParsedIp {
  address: IpAddress;
  family: IpFamily;
}

/**
 * Parses an IP literal strictly: a four-part dotted decimal IPv4 address or an IPv6
 * address (brackets allowed). Other IPv4 spellings (`127.1`, `0x7f.0.0.1`, `2130706433`)
 * are not IP literals here. Returns undefined for anything else.
 *
 * @param text The literal.
 * @returns The canonical address and its family, or undefined.
 */
export function parseIp(text: string): ParsedIp | undefined {
  let literal = text;
  if (literal.startsWith("[") && literal.endsWith("]")) literal = literal.slice(1, -1);
  // A dotted quad without leading zeros is its own canonical form. (ipaddr.js's isValid
  // throws and catches on every non-match, which costs microseconds: check first.)
  if (DOTTED_QUAD.test(literal)) {
    return literal.split(".").every((part) => Number(part) <= 255) ? { address: literal, family: "ipv4" } : undefined;
  }
  if (!literal.includes(":")) return undefined;
  const plain = plainIpv6(literal);
  if (plain !== undefined) return { address: plain, family: "ipv6" };
  if (!ipaddr.IPv6.isValid(literal)) return undefined;
  return { address: formatIpv6(ipaddr.IPv6.parse(literal)), family: "ipv6" };
}

const DOTTED_QUAD = /^(0|[1-9]\d{0,2})(\.(0|[1-9]\d{0,2})){3}$/;
const IPV4_SPELLING = /^(0x[0-9a-f]+|\d+)(\.(0x[0-9a-f]+|\d+)){0,3}$/i;

function formatIpv6(address: ipaddr.IPv6): string {
  if (address.isIPv4MappedAddress()) return `::ffff:${address.toIPv4Address().toString()}`;
  const text = address.toRFC5952String();
  // A zone only means something on a link-local address.
  if (address.range() !== "linkLocal" && text.includes("%")) return text.slice(0, text.indexOf("%"));
  return text;
}

/**
 * The canonical text (what {@linkcode parseIp} gives: RFC 5952, IPv4-mapped as
 * `::ffff:a.b.c.d`) of the IPv6 address in the 16 bytes at `at`, written straight from
 * the bytes: for the decoders of binary records (DNS AAAA), with no text to parse.
 *
 * @param bytes Holds the address.
 * @param at Where its 16 bytes start.
 * @returns The canonical text.
 */
export function formatIpv6Bytes(bytes: Uint8Array, at: number): IpAddress {
  let mapped = bytes[at + 10] === 0xff && bytes[at + 11] === 0xff;
  for (let k = 0; mapped && k < 10; k++) if (bytes[at + k] !== 0) mapped = false;
  if (mapped) return `::ffff:${bytes[at + 12]}.${bytes[at + 13]}.${bytes[at + 14]}.${bytes[at + 15]}`;
  // The first longest run of two or more zero groups becomes `::`.
  let bestStart = -1;
  let bestLength = 1;
  for (let k = 0; k < 8;) {
    if (bytes[at + 2 * k] !== 0 || bytes[at + 2 * k + 1] !== 0) {
      k++;
      continue;
    }
    let end = k + 1;
    while (end < 8 && bytes[at + 2 * end] === 0 && bytes[at + 2 * end + 1] === 0) end++;
    if (end - k > bestLength) {
      bestStart = k;
      bestLength = end - k;
    }
    k = end;
  }
  let text = "";
  for (let k = 0; k < 8; k++) {
    if (k === bestStart) {
      text += "::";
      k += bestLength - 1;
      continue;
    }
    if (k > 0 && k !== bestStart + bestLength) text += ":";
    text += ((bytes[at + 2 * k] << 8) | bytes[at + 2 * k + 1]).toString(16);
  }
  return text;
}

/**
 * True when `text` looks like an attempt at an IP literal that {@linkcode parseIp}
 * refuses, such as `127.1`, `0x7f.0.0.1` or `2130706433`: a name cannot be all digits,
 * dots and hex, so these are never looked up.
 */
export function isAmbiguousIpv4(text: string): boolean {
  return IPV4_SPELLING.test(text) && parseIp(text) === undefined;
}

/**
 * Writes an IP socket address the usual way: `127.0.0.1:80` or `[::1]:80`.
 *
 * @param address The address and port.
 * @returns The text form.
 */
export function formatSocketAddress(address: { address: string; port: number }): string {
  return address.address.includes(":") ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

/**
 * Builds an {@linkcode IpSocketAddress} from what a runtime reported, canonicalising the
 * address. Unparseable input gives the text unchanged (a runtime bug, not the user's).
 */
export function ipSocketAddress(address: string, port: number): IpSocketAddress {
  const parsed = parseIp(address);
  if (parsed === undefined) {
    return { address, port, family: address.includes(":") ? "ipv6" : "ipv4" };
  }
  return { address: parsed.address, port, family: parsed.family };
}

/**
 * Checks a port number: an integer from 0 to 65535 (1 to 65535 when `allowZero` is false).
 *
 * @param port The value to check.
 * @param operation The operation, for the error message.
 * @param allowZero Whether 0 (any free port) is acceptable.
 * @returns The port.
 */
export function checkPort(port: unknown, operation: string, allowZero: boolean): number {
  const min = allowZero ? 0 : 1;
  if (typeof port !== "number" || !Number.isInteger(port) || port < min || port > 65535) {
    throw socketError(
      "invalid-argument",
      operation,
      "",
      `port must be an integer from ${min} to 65535, got ${describeValue(port)}`,
    );
  }
  return port;
}

/** A short description of a value for error messages. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined) {
    return String(value);
  }
  return typeof value;
}
