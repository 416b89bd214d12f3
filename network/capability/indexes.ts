/**
 * Rules compiled for fast checks: per direction and protocol, a map of exact addresses,
 * pools per family, names and domains, each with its port ranges; names that may be
 * resolved in a set and a map of domains. A check looks a few keys up and scans the pools.
 *
 * @module
 */
import type { Cidr, HostPattern } from "./hosts.ts";
import { inCidr, LOOPBACK_CIDRS } from "./hosts.ts";
import type { AddressKey } from "./keys.ts";
import { nameKey } from "./keys.ts";
import { inPorts } from "./ports.ts";
import type { PortRange } from "./ports.ts";
import type { NameRule, SocketRule } from "./rules.ts";
import { matchesUnix } from "./unix_paths.ts";
import type { UnixPattern } from "./unix_paths.ts";

interface Pool {
  readonly cidr: Cidr;
  readonly ports: PortRange[];
}

/** The `tcp://` or `udp://` rules of one direction. */
export class SocketIndex {
  readonly #any: PortRange[] = [];
  readonly #exact = new Map<string, PortRange[]>();
  readonly #pools4: Pool[] = [];
  readonly #pools6: Pool[] = [];
  readonly #names = new Map<string, PortRange[]>();
  readonly #suffixes = new Map<string, PortRange[]>();
  /** No rule at all: everything is denied. */
  empty = true;

  /** Adds a rule's host and ports. */
  add(host: HostPattern, ports: PortRange): void {
    this.empty = false;
    switch (host.kind) {
      case "any":
        this.#any.push(ports);
        break;
      case "address":
        push(this.#exact, host.address, ports);
        break;
      case "cidr":
        this.#addPool(host.cidr, ports);
        break;
      case "loopback":
        for (const cidr of LOOPBACK_CIDRS) this.#addPool(cidr, ports);
        break;
      case "name":
        push(this.#names, host.name, ports);
        break;
      case "suffix":
        push(this.#suffixes, host.suffix, ports);
        break;
    }
  }

  #addPool(cidr: Cidr, ports: PortRange): void {
    const pools = cidr.family === "ipv4" ? this.#pools4 : this.#pools6;
    const same = pools.find((pool) => pool.cidr.bits === cidr.bits && pool.cidr.words.every((w, i) => w === cidr.words[i]));
    if (same !== undefined) same.ports.push(ports);
    else pools.push({ cidr, ports: [ports] });
  }

  /**
   * True when some rule allows `address` and `port`, reached by the name `hostname`
   * (the name resolved to `address` in the same call, or the address itself).
   */
  allows(address: AddressKey, port: number, hostname: string): boolean {
    if (this.empty) return false;
    if (inPorts(this.#any, port) || inPorts(this.#exact.get(address.canonical), port)) return true;
    const pools = address.family === "ipv4" ? this.#pools4 : this.#pools6;
    for (let i = 0; i < pools.length; i++) {
      const pool = pools[i];
      if (inCidr(pool.cidr, address.words) && inPorts(pool.ports, port)) return true;
    }
    // A name rule needs a name: an address written as itself is none.
    if ((this.#names.size === 0 && this.#suffixes.size === 0) || hostname === address.canonical) return false;
    const name = nameKey(hostname);
    return name !== "" && (inPorts(this.#names.get(name), port) || matchSuffix(this.#suffixes, name, port));
  }
}

/** Names that may be resolved. */
export class NameIndex {
  #any = false;
  readonly #names = new Set<string>();
  readonly #suffixes = new Set<string>();

  /** Adds a rule. */
  add(rule: NameRule): void {
    if (rule.kind === "any") this.#any = true;
    else if (rule.kind === "name") this.#names.add(rule.name);
    else this.#suffixes.add(rule.suffix);
  }

  /** True when `name` (as written) may be resolved. An IP literal only under `*`. */
  allows(name: string): boolean {
    if (this.#any) return true;
    const key = nameKey(name);
    if (key === "") return false;
    if (this.#names.has(key)) return true;
    for (let dot = key.indexOf("."); dot !== -1; dot = key.indexOf(".", dot + 1)) {
      if (this.#suffixes.has(key.slice(dot))) return true;
    }
    return false;
  }
}

/** `unix:` rules of one direction. */
export class UnixIndex {
  readonly #exact = new Set<string>();
  readonly #globs: UnixPattern[] = [];

  /** Adds a pattern. */
  add(pattern: UnixPattern): void {
    if (pattern.glob === undefined) this.#exact.add(pattern.text);
    else this.#globs.push(pattern);
  }

  /** No rule at all. */
  get empty(): boolean {
    return this.#exact.size === 0 && this.#globs.length === 0;
  }

  /** True when a rule matches the real location. */
  allows(real: string): boolean {
    return this.#exact.has(real) || this.#globs.some((pattern) => matchesUnix(pattern, real));
  }
}

/** Fills a socket index of each protocol from a direction's rules. */
export function indexSockets(rules: readonly SocketRule[]): Record<"tcp" | "udp", SocketIndex> {
  const indexes = { tcp: new SocketIndex(), udp: new SocketIndex() };
  for (const rule of rules) indexes[rule.protocol].add(rule.host, rule.ports);
  return indexes;
}

function push(map: Map<string, PortRange[]>, key: string, ports: PortRange): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [ports]);
  else list.push(ports);
}

/** True when a domain rule covers `name` (a name under the domain, not the domain) and `port`. */
function matchSuffix(suffixes: Map<string, PortRange[]>, name: string, port: number): boolean {
  for (let dot = name.indexOf("."); dot !== -1; dot = name.indexOf(".", dot + 1)) {
    if (inPorts(suffixes.get(name.slice(dot)), port)) return true;
  }
  return false;
}
