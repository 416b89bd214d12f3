/**
 * Name checks before any query: IDNA (UTS 46) with the platform's own `domainToASCII`,
 * LDH labels of at most 63 octets, names of at most 253.
 *
 * @module
 */
import { domainToASCII } from "node:url";
import { describeValue, isAmbiguousIpv4 } from "../core/address.ts";
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
  const invalid = (detail: string) => socketError("invalid-argument", operation, describeValue(name), detail);
  if (name.length === 0) throw invalid("name is empty");
  if (isAmbiguousIpv4(name)) throw invalid("not a name, and not a dotted-quad IPv4 address");
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u0020%/\\@:?#[\]]/.test(trimmed)) throw invalid("name contains characters a host name cannot hold");
  const ascii = /^[\x21-\x7e]*$/.test(trimmed) ? trimmed.toLowerCase() : domainToASCII(trimmed);
  if (ascii === "") throw invalid("IDNA conversion failed");
  if (ascii.length > 253) throw invalid("name is longer than 253 octets");
  for (const label of ascii.split(".")) {
    if (label.length === 0) throw invalid("name has an empty label");
    if (label.length > 63) throw invalid(`label "${label.slice(0, 20)}…" is longer than 63 octets`);
    if (!LDH_LABEL.test(label)) throw invalid(`label "${label}" is not letters, digits and inner hyphens`);
  }
  return ascii;
}

/** True for `localhost` and names under `.localhost` (RFC 6761 §6.3): loopback, no query. */
export function isLocalhostName(asciiName: string): boolean {
  return asciiName === "localhost" || asciiName.endsWith(".localhost");
}
