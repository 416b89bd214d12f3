/**
 * Capability rules: their object form, the flag strings of the WASI sockets proposal, and
 * parsing both into rule lists, with `invalid-argument` saying what is wrong.
 *
 * @module
 */
import { socketError } from "../../core/errors.ts";
import { describeValue } from "../../core/address.ts";
import { asciiName } from "../../resolve/names.ts";
import { parseHost } from "./hosts.ts";
import type { HostPattern } from "./hosts.ts";
import { parsePorts } from "./ports.ts";
import type { PortRange } from "./ports.ts";
import { parseUnixPattern } from "./unix_paths.ts";
import type { UnixPattern } from "./unix_paths.ts";

/**
 * A network policy in object form: each list holds rules, one rule per string.
 *
 * - `resolve`: names that may be resolved: `example.com`, `*.example.com` (any name
 *   under it, not itself), `*` (every name, and IP literals).
 * - `outbound`: what may be connected to (TCP), sent to (UDP) or connected to (Unix):
 *   `tcp://HOST:PORT`, `udp://HOST:PORT`, `unix:PATH`.
 * - `inbound`: what may be listened on or bound: the same forms.
 *
 * HOST is `*`, an IP address (`127.0.0.1`, `::1` or `[::1]`), a CIDR pool (`10.0.0.0/8`,
 * `fd00::/8`), `localhost` (127.0.0.0/8 and ::1), a name (`db.internal`: the addresses
 * it resolves to in the same call; implies resolving it) or `*.` and a domain. PORT is a
 * port, a range (`8000-8100`) or `*`. PATH is an absolute path, `*` matching within one
 * path segment and `**` across segments, or `@name` for a Linux abstract name.
 *
 * @example Give a client one database
 * ```ts
 * import type { NetworkRules } from "./rules.ts";
 * const rules: NetworkRules = { outbound: ["tcp://db.internal:5432"] };
 * console.log(rules.outbound);
 * ```
 */
export interface NetworkRules {
  /** Names that may be resolved (as `--allow-resolve=`). */
  resolve?: readonly string[];
  /** Where connections and datagrams may go (as `--allow-outbound=`). */
  outbound?: readonly string[];
  /** What may be listened on or bound (as `--allow-inbound=`). */
  inbound?: readonly string[];
}

/**
 * A policy for `createNetwork` and `Network.restrict`: the object form, or flag strings
 * such as `"--allow-outbound=tcp://db.internal:5432"` (one, or an array; a flag's value
 * may be a comma-separated list).
 *
 * @example Using `NetworkPolicyInit`
 * ```ts
 * import type { NetworkPolicyInit } from "./rules.ts";
 * const policy: NetworkPolicyInit = ["--allow-resolve=*.example.com", "--allow-outbound=tcp://*.example.com:443"];
 * console.log(policy.length);
 * ```
 */
export type NetworkPolicyInit = NetworkRules | string | readonly string[];

/** A parsed `tcp://` or `udp://` rule. */
export interface SocketRule {
  readonly protocol: "tcp" | "udp";
  readonly host: HostPattern;
  readonly ports: PortRange;
}

/** A parsed name rule: `*`, a name, or a domain's subdomains (`.example.com`). */
export type NameRule = { readonly kind: "any" } | { readonly kind: "name"; readonly name: string } | {
  readonly kind: "suffix";
  readonly suffix: string;
};

/** Rules of one direction. */
export interface DirectionRules {
  readonly sockets: SocketRule[];
  readonly unix: UnixPattern[];
}

/** Every rule of a policy, parsed. */
export interface ParsedRules {
  readonly resolve: NameRule[];
  readonly outbound: DirectionRules;
  readonly inbound: DirectionRules;
}

/** The three flags, and the key of the object form each fills. */
export const FLAGS = {
  "--allow-resolve": "resolve",
  "--allow-outbound": "outbound",
  "--allow-inbound": "inbound",
} as const;

type Key = typeof FLAGS[keyof typeof FLAGS];
const KEYS: readonly Key[] = ["resolve", "outbound", "inbound"];

/**
 * Reads a `--allow-...=a,b` flag into `into`; false when `arg` is none of the three.
 *
 * @param arg One argument.
 * @param into The object form being filled.
 * @param operation For the error message.
 */
export function readFlag(arg: string, into: Record<Key, string[]>, operation: string): boolean {
  const equals = arg.indexOf("=");
  const flag = equals === -1 ? arg : arg.slice(0, equals);
  if (!Object.hasOwn(FLAGS, flag)) return false;
  const key = FLAGS[flag as keyof typeof FLAGS];
  if (equals === -1) {
    throw socketError("invalid-argument", operation, describeValue(arg), `${flag} needs rules after = (${flag}=* allows all)`);
  }
  for (const rule of arg.slice(equals + 1).split(",")) {
    parseRule(key, rule, operation, flag);
    into[key].push(rule);
  }
  return true;
}

/**
 * Parses a policy in any of its forms.
 *
 * @param init The object form, or flag strings.
 * @param operation For error messages (`createNetwork`, `network.restrict`).
 * @returns Every rule, parsed.
 */
export function parsePolicy(init: unknown, operation: string): ParsedRules {
  const rules: ParsedRules = {
    resolve: [],
    outbound: { sockets: [], unix: [] },
    inbound: { sockets: [], unix: [] },
  };
  const add = (key: Key, text: unknown, flag: string) => {
    const rule = parseRule(key, text, operation, flag);
    if (key === "resolve") rules.resolve.push(rule as NameRule);
    else if ("protocol" in rule) rules[key].sockets.push(rule);
    else if ("text" in rule) rules[key].unix.push(rule);
  };
  if (typeof init === "string" || Array.isArray(init)) {
    for (const arg of typeof init === "string" ? [init] : init as unknown[]) {
      const lists: Record<Key, string[]> = { resolve: [], outbound: [], inbound: [] };
      if (typeof arg !== "string" || !readFlag(arg, lists, operation)) {
        throw socketError("invalid-argument", operation, describeValue(arg), "expected --allow-resolve=, --allow-outbound= or --allow-inbound=");
      }
      for (const key of KEYS) for (const text of lists[key]) add(key, text, `--allow-${key}`);
    }
    return rules;
  }
  if (typeof init !== "object" || init === null) {
    throw socketError("invalid-argument", operation, "", `policy must be { resolve?, outbound?, inbound? } or flag strings, got ${describeValue(init)}`);
  }
  for (const [key, list] of Object.entries(init)) {
    if (!KEYS.includes(key as Key)) {
      throw socketError("invalid-argument", operation, "", `unknown policy key ${JSON.stringify(key)} (expected resolve, outbound, inbound)`);
    }
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw socketError("invalid-argument", operation, "", `${key} must be an array of rules, got ${describeValue(list)}`);
    for (const text of list) add(key as Key, text, key);
  }
  return rules;
}

/** Parses one rule of `key`'s kind, or throws `invalid-argument` naming the rule and the fault. */
function parseRule(key: Key, text: unknown, operation: string, flag: string): NameRule | SocketRule | UnixPattern {
  const fail = (problem: string) => socketError("invalid-argument", operation, `${flag} rule ${describeValue(text)}`, problem);
  if (typeof text !== "string") throw fail("a rule must be a string");
  if (text.length === 0) throw fail("empty rule");
  const rule = key === "resolve" ? parseNameRule(text) : parseSocketRule(text, key);
  if ("problem" in rule) throw fail(rule.problem);
  return rule;
}

function parseNameRule(text: string): NameRule | { problem: string } {
  if (text === "*") return { kind: "any" };
  const wildcard = text.startsWith("*.");
  const name = asciiName(wildcard ? text.slice(2) : text);
  if (typeof name !== "string") {
    const hint = text.includes("*") && !wildcard ? " (* stands alone, or as the first label: *.example.com)" : "";
    return { problem: `not a name: ${name.problem}${hint}` };
  }
  return wildcard ? { kind: "suffix", suffix: `.${name}` } : { kind: "name", name };
}

const SOCKET_RULE = /^(tcp|udp):\/\/(.+):([^:\]]+)$/;

function parseSocketRule(text: string, key: "outbound" | "inbound"): SocketRule | UnixPattern | { problem: string } {
  if (text.startsWith("unix:")) return parseUnixPattern(text.slice("unix:".length));
  const match = SOCKET_RULE.exec(text);
  if (match === null) return { problem: "expected tcp://HOST:PORT, udp://HOST:PORT or unix:PATH (PORT may be * or a range)" };
  const protocol = match[1] as "tcp" | "udp";
  const host = parseHost(match[2]);
  if ("problem" in host) return host;
  const ports = parsePorts(match[3]);
  if ("problem" in ports) return ports;
  if (key === "outbound" && protocol === "udp" && (host.kind === "name" || host.kind === "suffix")) {
    return { problem: "udp.send takes IP addresses, so a name can never match: write addresses, a CIDR pool or localhost" };
  }
  return { protocol, host, ports };
}
