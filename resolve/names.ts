/**
 * Name checks before any query: IDNA (UTS 46) with the platform's own `domainToASCII`,
 * LDH labels of at most 63 octets, names of at most 253.
 *
 * @module
 */
import { domainToASCII } from "node:url";
import { describeValue, isAmbiguousIpv4, parseIp } from "../core/address.ts";
import { socketError } from "../core/errors.ts";

const LDH_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/**
 * Turns a host name into its lower-case ASCII form without the trailing dot, or throws
 * `invalid-argument` saying what is wrong.
 *
 * @param name The name as the caller wrote it.
 * @param operation For the error message.
 * @returns The name to look up.
 */
export function normalizeName(name: unknown, operation: string): string {
  if (typeof name !== "string") {
    throw socketError("invalid-argument", operation, "", `name must be a string, got ${describeValue(name)}`);
  }
  const checked = asciiName(name);
  if (typeof checked === "string") return checked;
  throw socketError("invalid-argument", operation, describeValue(name), checked.problem);
}

/**
 * {@linkcode normalizeName} without throwing: the lower-case ASCII name, or what is wrong.
 * Text that spells an IP address (`127.1`, `127.0.0.1.`, or one written in full-width
 * digits) is not a name, before IDNA or after.
 *
 * @param name The name as written.
 * @returns The name, or `{ problem }`.
 */
export function asciiName(name: string): string | { problem: string } {
  const plain = plainName(name);
  if (plain !== undefined) return plain;
  if (name.length === 0) return { problem: "name is empty" };
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  if (isAmbiguousIpv4(name) || spellsAddress(trimmed)) return { problem: "not a name, and not a dotted-quad IPv4 address" };
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u0020%/\\@:?#[\]]/.test(trimmed)) return { problem: "name contains characters a host name cannot hold" };
  const ascii = /^[\x21-\x7e]*$/.test(trimmed) ? trimmed.toLowerCase() : domainToASCII(trimmed);
  if (ascii === "") return { problem: "IDNA conversion failed" };
  if (ascii !== trimmed.toLowerCase() && spellsAddress(ascii)) return { problem: "not a name: it maps to an IP address under IDNA" };
  if (ascii.length > 253) return { problem: "name is longer than 253 octets" };
  for (const label of ascii.split(".")) {
    if (label.length === 0) return { problem: "name has an empty label" };
    if (label.length > 63) return { problem: `label "${label.slice(0, 20)}…" is longer than 63 octets` };
    if (!LDH_LABEL.test(label)) return { problem: `label "${label}" is not letters, digits and inner hyphens` };
  }
  return ascii;
}

/**
 * The common case of {@linkcode asciiName} in one pass, no regular expression and no
 * split: a name of LDH labels in ASCII (letters, digits, inner hyphens; 1 to 63 octets
 * each, at most 253 in all, a trailing dot allowed) with a label holding a hyphen or a
 * letter other than a-f and x, so that it cannot spell an IPv4 address (every label of
 * one is digits or `0x` and hex digits). The lower-case name without the trailing dot,
 * exactly what the full checks give; undefined for anything else, which they then judge.
 * A name it takes is no IP literal either.
 *
 * @param name The name as written.
 * @returns The name to look up, or undefined.
 */
export function plainName(name: string): string | undefined {
  const length = name.length > 0 && name.charCodeAt(name.length - 1) === 0x2e ? name.length - 1 : name.length;
  if (length === 0 || length > 253) return undefined;
  let upper = false;
  let notAddress = false;
  let labelStart = 0;
  let previous = 0x2e;
  for (let i = 0; i <= length; i++) {
    const code = i === length ? 0x2e : name.charCodeAt(i);
    if (code === 0x2e) {
      // An empty label, one over 63 octets, or one ending in a hyphen.
      if (i === labelStart || i - labelStart > 63 || previous === 0x2d) return undefined;
      labelStart = i + 1;
    } else if (code >= 0x61 && code <= 0x7a) {
      if (code > 0x66 && code !== 0x78) notAddress = true;
    } else if (code >= 0x41 && code <= 0x5a) {
      upper = true;
      if (code > 0x46 && code !== 0x58) notAddress = true;
    } else if (code === 0x2d) {
      // Not at the start of a label.
      if (i === labelStart) return undefined;
      notAddress = true;
    } else if (code < 0x30 || code > 0x39) {
      return undefined;
    }
    previous = code;
  }
  if (!notAddress) return undefined;
  const trimmed = length === name.length ? name : name.slice(0, length);
  return upper ? trimmed.toLowerCase() : trimmed;
}

/** True when `text` is an IP literal or an odd IPv4 spelling. */
function spellsAddress(text: string): boolean {
  return isAmbiguousIpv4(text) || parseIp(text) !== undefined;
}

/** True for `localhost` and names under `.localhost` (RFC 6761 §6.3): loopback, no query. */
export function isLocalhostName(asciiName: string): boolean {
  return asciiName === "localhost" || asciiName.endsWith(".localhost");
}
