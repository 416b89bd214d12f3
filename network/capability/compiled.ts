/**
 * A policy compiled from rules: the `NetworkPolicy` a `Network` made by `createNetwork`
 * or `restrict` asks. Allowed checks return undefined after a few lookups; denied ones
 * say which flag would have allowed the request.
 *
 * @module
 */
import { formatUnixPath } from "../../core/address.ts";
import type { AccessRequest, NetworkPolicy } from "../policy.ts";
import { indexSockets, NameIndex, UnixIndex } from "./indexes.ts";
import type { SocketIndex } from "./indexes.ts";
import { addressKey, nameKey } from "./keys.ts";
import type { AddressKey } from "./keys.ts";
import { parsePolicy } from "./rules.ts";
import type { DirectionRules } from "./rules.ts";
import { realLocation } from "./unix_paths.ts";

type Protocols = Record<"tcp" | "udp", SocketIndex>;

/** A policy of rules; see `NetworkRules` for their forms. */
export class RulePolicy implements NetworkPolicy {
  readonly #resolve = new NameIndex();
  readonly #outbound: Protocols;
  readonly #inbound: Protocols;
  readonly #outboundUnix: UnixIndex;
  readonly #inboundUnix: UnixIndex;

  /**
   * Parses and compiles `init` (the object form or flag strings).
   *
   * @param init The rules.
   * @param operation For `invalid-argument` messages.
   */
  constructor(init: unknown, operation: string) {
    const rules = parsePolicy(init, operation);
    for (const rule of rules.resolve) this.#resolve.add(rule);
    // A rule naming a host implies resolving it; `localhost` too.
    for (const { sockets } of [rules.outbound, rules.inbound]) {
      for (const { host } of sockets) {
        if (host.kind === "name") this.#resolve.add({ kind: "name", name: host.name });
        if (host.kind === "suffix") this.#resolve.add({ kind: "suffix", suffix: host.suffix });
        if (host.kind === "loopback") this.#resolve.add({ kind: "name", name: "localhost" });
      }
    }
    this.#outbound = indexSockets(rules.outbound.sockets);
    this.#inbound = indexSockets(rules.inbound.sockets);
    this.#outboundUnix = indexUnix(rules.outbound);
    this.#inboundUnix = indexUnix(rules.inbound);
  }

  /** Allows (undefined) or says why not. */
  check(request: AccessRequest): string | undefined {
    switch (request.kind) {
      case "resolve":
        return this.#resolve.allows(request.name) ? undefined : resolveDenial(request.name);
      case "outbound":
      case "inbound": {
        const index = (request.kind === "outbound" ? this.#outbound : this.#inbound)[request.protocol];
        const key = addressKey(request.address.address);
        if (key !== undefined && index.allows(key, request.port, request.hostname)) return undefined;
        return socketDenial(request.kind, request.protocol, request.address.address, key, request.port, request.hostname);
      }
      case "outbound-unix":
      case "inbound-unix": {
        const outbound = request.kind === "outbound-unix";
        const index = outbound ? this.#outboundUnix : this.#inboundUnix;
        // No rule: no need to look at the file system.
        const real = index.empty ? request.path : realLocation(request.path);
        if (real !== undefined && index.allows(real)) return undefined;
        return unixDenial(outbound ? "outbound" : "inbound", request.path, real);
      }
    }
  }

  /** True when some outbound rule of `protocol` exists. */
  hasOutbound(protocol: "tcp" | "udp"): boolean {
    return !this.#outbound[protocol].empty;
  }
}

function indexUnix(rules: DirectionRules): UnixIndex {
  const index = new UnixIndex();
  for (const pattern of rules.unix) index.add(pattern);
  return index;
}

function resolveDenial(name: string): string {
  const key = nameKey(name);
  if (key === "") return "access denied: resolving an IP literal is allowed by --allow-resolve=* only";
  return `access denied: no rule of this network allows resolving ${key} (--allow-resolve=${key}, or a rule naming it, would)`;
}

function socketDenial(
  direction: "outbound" | "inbound",
  protocol: "tcp" | "udp",
  address: string,
  key: AddressKey | undefined,
  port: number,
  hostname: string,
): string {
  const shown = key?.canonical ?? address;
  const target = `${protocol}://${key?.family === "ipv4" || (key === undefined && !address.includes(":")) ? shown : `[${shown}]`}:${port}`;
  const name = hostname === address ? "" : nameKey(hostname);
  const mapped = key !== undefined && key.canonical !== address ? ` (${address} is ${key.canonical})` : "";
  const via = name === "" ? "" : `, the address ${name} resolved to`;
  const flag = name === "" ? `--allow-${direction}=${target}` : `--allow-${direction}=${protocol}://${name}:${port}`;
  return `access denied: no rule of this network allows ${target}${mapped}${via} (${flag} would)`;
}

function unixDenial(direction: "outbound" | "inbound", path: string, real: string | undefined): string {
  if (real === undefined) {
    return `access denied: the real location of ${formatUnixPath(path)} cannot be told (a dangling or looping link, or a folder that cannot be read)`;
  }
  const target = `unix:${formatUnixPath(real)}`;
  const via = real === path ? "" : `, where ${formatUnixPath(path)} leads`;
  return `access denied: no rule of this network allows ${target}${via} (--allow-${direction}=${target} would)`;
}
