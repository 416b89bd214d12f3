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

/** True when `text` is an IP literal or an odd IPv4 spelling. */
function spellsAddress(text: string): boolean {
  return isAmbiguousIpv4(text) || parseIp(text) !== undefined;
}

/** True for `localhost` and names under `.localhost` (RFC 6761 §6.3): loopback, no query. */
export function isLocalhostName(asciiName: string): boolean {
  return asciiName === "localhost" || asciiName.endsWith(".localhost");
}
