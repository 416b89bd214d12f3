/** Helpers of the capability tests: restricted networks, a counting resolver, targets that notice any contact. */
import assert from "node:assert/strict";
import fs from "node:fs";
import type { LookupFamily } from "../core/driver.ts";
import type { Driver } from "../core/driver.ts";
import type { Listener } from "../core/listener.ts";
import { Network } from "../network/network.ts";
import { ALLOW_ALL } from "../network/policy.ts";
import { RulePolicy } from "../network/capability/compiled.ts";
import type { NetworkPolicyInit } from "../network/capability/rules.ts";
import type { IpAddress, IpSocketAddress, UnixSocketAddress } from "../core/address.ts";
import type { Resolver } from "../resolve/resolve.ts";
import { WireResolver } from "../resolve/wire/wire_resolver.ts";
import type { UdpSocket } from "../udp/socket.ts";
import { readText } from "./unix_helpers.ts";

/** The names tests use, from a hosts table: no DNS server is ever asked. */
export const HOSTS: Record<string, string[]> = {
  "db.internal": ["127.0.0.1"],
  "evil.internal": ["127.0.0.2"],
  "rebind.internal": ["203.0.113.7"],
  "loop.internal": ["127.0.0.1"],
  "api.example.com": ["127.0.0.1"],
  "deep.api.example.com": ["127.0.0.1"],
  "example.com": ["127.0.0.1"],
  "mixed.internal": ["203.0.113.9", "127.0.0.1"],
};

/** A resolver over {@linkcode HOSTS} that records every name it is asked. */
export class CountingResolver implements Resolver {
  readonly asked: string[] = [];
  readonly #wire: WireResolver;

  constructor(driver: Driver) {
    this.#wire = new WireResolver({ nameservers: ["127.0.0.1:9"], hosts: HOSTS, search: [] }, driver);
  }

  resolve(name: string, family: LookupFamily, signal?: AbortSignal): Promise<IpAddress[]> {
    this.asked.push(name);
    if (!Object.hasOwn(HOSTS, name)) return Promise.resolve([]);
    return this.#wire.resolve(name, family, signal);
  }
}

/** A network over `driver` with only `policy`'s rules, resolving with `resolver` (as `createNetwork` does). */
export function restricted(driver: Driver, policy: NetworkPolicyInit, resolver: Resolver): Network {
  return new Network(driver, new RulePolicy(policy, "createNetwork"), undefined, resolver);
}

/** An allow-all network over `driver`, resolving with `resolver`. */
export function unrestricted(driver: Driver, resolver: Resolver): Network {
  return new Network(driver, ALLOW_ALL, undefined, resolver);
}

const encode = (text: string) => new TextEncoder().encode(text);

/**
 * A TCP listener on 127.0.0.1 that must be reached by nobody but the probe:
 * `assertUntouched` connects once through `allowAll` and checks that the first
 * connection the listener accepts is that probe.
 */
export async function tcpTarget(allowAll: Network): Promise<{ port: number; listener: Listener<IpSocketAddress>; assertUntouched(): Promise<void> }> {
  const listener = await allowAll.tcp.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.localAddress.port;
  return {
    port,
    listener,
    async assertUntouched() {
      await using probe = await allowAll.tcp.connect({ hostname: "127.0.0.1", port });
      await using first = await listener.accept();
      assert.equal(first.remoteAddress.port, probe.localAddress.port, "the listener accepted a connection before the probe");
    },
  };
}

/** A UDP socket on 127.0.0.1 that must hear nobody but the probe. */
export async function udpTarget(allowAll: Network): Promise<{ port: number; socket: UdpSocket; assertUntouched(): Promise<void> }> {
  const socket = await allowAll.udp.bind({ hostname: "127.0.0.1", port: 0 });
  const port = socket.localAddress.port;
  return {
    port,
    socket,
    async assertUntouched() {
      await using probe = await allowAll.udp.bind({ hostname: "127.0.0.1", port: 0 });
      await probe.send(encode("probe"), { address: "127.0.0.1", port });
      const first = await socket.receive({ signal: AbortSignal.timeout(5000) });
      assert.equal(first.remoteAddress.port, probe.localAddress.port, "the socket received a datagram before the probe");
    },
  };
}

/** A Unix listener that must be reached by nobody but the probe (which says "probe"). */
export async function unixTarget(allowAll: Network, path: string): Promise<{ listener: Listener<UnixSocketAddress>; assertUntouched(): Promise<void> }> {
  const listener = await allowAll.unix.listen(path);
  return {
    listener,
    async assertUntouched() {
      const probe = await allowAll.unix.connect(path);
      await probe.write(encode("probe"));
      await probe.closeWrite();
      await using first = await listener.accept();
      assert.equal(await readText(first), "probe", "the listener accepted a connection before the probe");
      probe.close();
    },
  };
}

/**
 * A folder for the Unix cases: `allowed/`, `secret/` (where the target listens, as
 * `secret/db.sock`), and in `allowed/` a link to the socket (`link.sock`), a link to the
 * folder (`sub`), and a dangling link into it (`dangling.sock`).
 */
export function unixLayout(dir: string): { allowed: string; secret: string; socket: string } {
  const allowed = `${dir}/allowed`;
  const secret = `${dir}/secret`;
  fs.mkdirSync(allowed);
  fs.mkdirSync(secret);
  fs.symlinkSync(`${secret}/db.sock`, `${allowed}/link.sock`);
  fs.symlinkSync(secret, `${allowed}/sub`);
  fs.symlinkSync(`${secret}/new.sock`, `${allowed}/dangling.sock`);
  return { allowed, secret, socket: `${secret}/db.sock` };
}
