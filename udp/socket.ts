/**
 * The portable `UdpSocket`: checks, a bounded receive queue, connect as a default
 * destination and a filter, and the socket options, over a driver's raw socket.
 *
 * @module
 */
import { untilClosed } from "../core/until_closed.ts";
import { describeValue, formatSocketAddress, ipSocketAddress, parseIp } from "../core/address.ts";
import type { IpAddress, IpFamily, IpSocketAddress, ParsedIp } from "../core/address.ts";
import { checkSignal } from "../core/abort.ts";
import type { OutgoingDatagram, RawUdpSocket } from "../core/driver.ts";
import { socketError } from "../core/errors.ts";
import type { SocketError } from "../core/errors.ts";
import type { DatagramQueue } from "./datagram_queue.ts";

/** How many allowed destinations a socket remembers before it starts asking again. */
const MAX_REMEMBERED = 4096;

/** The largest UDP payload: 65,535 less the IP and UDP headers. */
const MAX_PAYLOAD: Record<IpFamily, number> = { ipv4: 65_507, ipv6: 65_527 };

/**
 * A destination: an IP address (not a name, as in WASI) and a port.
 *
 * @example Using `UdpTarget`
 * ```ts
 * import type { UdpTarget } from "./socket.ts";
 * const to: UdpTarget = { address: "127.0.0.1", port: 5353 };
 * console.log(to.port);
 * ```
 */
export interface UdpTarget {
  /** An IP address (names are not looked up here). */
  address: IpAddress;
  /** The port, 1 to 65535. */
  port: number;
}

/**
 * A received datagram.
 *
 * @example Using `UdpDatagram`
 * ```ts
 * import type { UdpDatagram } from "./socket.ts";
 * const show = (d: UdpDatagram) => `${d.data.length} bytes from ${d.remoteAddress.address}`;
 * console.log(typeof show);
 * ```
 */
export interface UdpDatagram {
  /** The payload. */
  data: Uint8Array;
  /** Who sent it. */
  remoteAddress: IpSocketAddress;
}

/** Asked before each send to a new destination: throws `access-denied` when not allowed. */
export type SendCheck = (address: ParsedIp, port: number) => void;

/**
 * A bound UDP socket, the same on Node.js, Deno and Bun.
 *
 * @example Send and receive on loopback
 * ```ts
 * import { bind } from "./mod.ts";
 * await using a = await bind({ hostname: "127.0.0.1", port: 0 });
 * await using b = await bind({ hostname: "127.0.0.1", port: 0 });
 * await a.send(new TextEncoder().encode("ping"), b.localAddress);
 * const { data, remoteAddress } = await b.receive();
 * console.log(new TextDecoder().decode(data), remoteAddress.port === a.localAddress.port);
 * ```
 */
export class UdpSocket implements AsyncIterable<UdpDatagram> {
  /** The address and port it is bound to. */
  readonly localAddress: IpSocketAddress;
  readonly #raw: RawUdpSocket;
  readonly #queue: DatagramQueue<UdpDatagram>;
  readonly #checkSend: SendCheck | undefined;
  readonly #allowed = new Set<string>();
  readonly #label: string;
  #remote: IpSocketAddress | undefined;
  /** The last destination given to a send, and what it was checked to be. */
  #lastTarget: { address: string; port: number; target: IpSocketAddress } | undefined;
  #closed = false;

  /**
   * Wraps a driver's socket. Internal: use `udp.bind`.
   *
   * @param raw The driver's socket.
   * @param queue Where the driver's datagrams are queued.
   * @param checkSend The policy's check for destinations, if any.
   */
  constructor(raw: RawUdpSocket, queue: DatagramQueue<UdpDatagram>, checkSend: SendCheck | undefined) {
    this.#raw = raw;
    this.#queue = queue;
    this.#checkSend = checkSend;
    this.localAddress = raw.localAddress;
    this.#label = `udp ${formatSocketAddress(raw.localAddress)}`;
  }

  /** The peer set by {@linkcode UdpSocket.connect}, if any. */
  get remoteAddress(): IpSocketAddress | undefined {
    return this.#remote;
  }

  /** Datagrams dropped because the receive queue was full. */
  get dropped(): number {
    return this.#queue.dropped;
  }

  /**
   * Sends one datagram.
   *
   * @param data The payload: at most 65,507 bytes over IPv4, 65,527 over IPv6.
   * @param to The destination; omitted when connected.
   * @returns The number of bytes sent.
   */
  send(data: Uint8Array, to?: UdpTarget): Promise<number> {
    let target: IpSocketAddress;
    try {
      target = this.#target(data, to, "udp.send");
    } catch (error) {
      return Promise.reject(error);
    }
    const length = data.length;
    const pending = this.#raw.send(data, target.address, target.port);
    // Sent at once (Bun): no promise of the driver's to wait for.
    return pending === undefined ? Promise.resolve(length) : pending.then(() => length);
  }

  /**
   * Sends several datagrams in one call (Bun's batch send; a loop elsewhere).
   *
   * @param datagrams Each with `data` and, unless connected, `to`.
   * @returns How many were sent.
   */
  async sendMany(datagrams: readonly { data: Uint8Array; to?: UdpTarget }[]): Promise<number> {
    if (!Array.isArray(datagrams)) throw this.#error("invalid-argument", "udp.sendMany", "expected an array of { data, to }");
    const outgoing: OutgoingDatagram[] = datagrams.map(({ data, to }) => {
      const target = this.#target(data, to, "udp.sendMany");
      return { data, address: target.address, port: target.port };
    });
    if (this.#raw.sendMany !== undefined) return this.#raw.sendMany(outgoing);
    for (const { data, address, port } of outgoing) await this.#raw.send(data, address, port);
    return outgoing.length;
  }

  /**
   * The next datagram (from the connected peer only, once connected).
   *
   * @param options `signal` to stop waiting; it rejects with `signal.reason`.
   * @returns The datagram and who sent it.
   */
  receive(options?: { signal?: AbortSignal }): Promise<UdpDatagram> {
    let signal: AbortSignal | undefined;
    try {
      signal = checkSignal(options?.signal, "udp.receive");
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closed) return Promise.reject(this.#error("invalid-state", "udp.receive", "socket is closed"));
    // Queued as they are returned: no promise or object of ours per datagram on the way out.
    return this.#queue.take(signal);
  }

  /**
   * Sets a default destination and receives only from it (as `connect(2)` on UDP).
   *
   * @param remote The peer: an IP address and port.
   */
  connect(remote: UdpTarget): void {
    this.#checkOpen("udp.connect");
    const parsed = this.#checkTarget(remote, "udp.connect");
    this.#checkDestination(parsed, remote.port);
    this.#remote = ipSocketAddress(parsed.address, remote.port);
    this.#lastTarget = undefined;
  }

  /** Forgets the connected peer: `send` needs `to` again, and any sender is received. */
  disconnect(): void {
    this.#checkOpen("udp.disconnect");
    this.#remote = undefined;
    this.#lastTarget = undefined;
  }

  /**
   * Allows or forbids sending to broadcast addresses (SO_BROADCAST).
   *
   * @param on Whether to allow it.
   */
  setBroadcast(on: boolean): void {
    this.#checkOpen("udp.setBroadcast");
    this.#raw.setBroadcast(on === true);
  }

  /**
   * Sets the unicast TTL (hop limit).
   *
   * @param ttl 1 to 255.
   */
  setTtl(ttl: number): void {
    this.#raw.setTtl(this.#checkTtl(ttl, "udp.setTtl"));
  }

  /**
   * Sets the TTL of multicast datagrams.
   *
   * @param ttl 0 to 255.
   */
  setMulticastTtl(ttl: number): void {
    this.#raw.setMulticastTtl(this.#checkTtl(ttl, "udp.setMulticastTtl", 0));
  }

  /**
   * Whether multicast datagrams sent come back to this host.
   *
   * @param on Loop them back or not.
   */
  setMulticastLoopback(on: boolean): void {
    this.#checkOpen("udp.setMulticastLoopback");
    this.#raw.setMulticastLoopback(on === true);
  }

  /**
   * Joins a multicast group.
   *
   * @param group The group address.
   * @param interfaceAddress The local interface's address (the system's choice when omitted).
   */
  async joinMulticast(group: IpAddress, interfaceAddress?: IpAddress): Promise<void> {
    const [g, i] = this.#checkGroup(group, interfaceAddress, "udp.joinMulticast");
    await this.#raw.joinMulticast(g, i);
  }

  /**
   * Leaves a multicast group.
   *
   * @param group The group address.
   * @param interfaceAddress The interface given when joining.
   */
  async leaveMulticast(group: IpAddress, interfaceAddress?: IpAddress): Promise<void> {
    const [g, i] = this.#checkGroup(group, interfaceAddress, "udp.leaveMulticast");
    await this.#raw.leaveMulticast(g, i);
  }

  /** Closes the socket; a pending `receive` rejects with `invalid-state`. Closing twice is harmless. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.fail(() => this.#error("invalid-state", "udp.receive", "socket is closed"));
    this.#raw.close();
  }

  /** Yields received datagrams until the socket is closed. */
  [Symbol.asyncIterator](): AsyncIterator<UdpDatagram> {
    return untilClosed(() => this.receive(), () => this.#closed);
  }

  /** Closes the socket: `await using socket = await udp.bind(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  #target(data: Uint8Array, to: UdpTarget | undefined, operation: string): IpSocketAddress {
    this.#checkOpen(operation);
    if (!(data instanceof Uint8Array)) throw this.#error("invalid-argument", operation, "data must be a Uint8Array");
    const last = this.#lastTarget;
    // The same destination as the last send (the common case): checked then, and
    // connect/disconnect forget it, so only the payload's size is left to check.
    const target = last !== undefined && typeof to === "object" && to !== null && to.address === last.address && to.port === last.port
      ? last.target
      : this.#checkedTarget(to, operation);
    if (data.length > MAX_PAYLOAD[target.family]) {
      throw socketError("datagram-too-large", operation, formatSocketAddress(target), `${data.length} bytes; at most ${MAX_PAYLOAD[target.family]} over ${target.family}`);
    }
    return target;
  }

  #checkedTarget(to: UdpTarget | undefined, operation: string): IpSocketAddress {
    if (to === undefined) {
      // The connected peer, checked against the policy by connect().
      if (this.#remote === undefined) throw this.#error("invalid-argument", operation, "not connected: give a destination");
      return this.#remote;
    }
    const parsed = this.#checkTarget(to, operation);
    const target = ipSocketAddress(parsed.address, to.port);
    if (this.#remote !== undefined && (target.address !== this.#remote.address || target.port !== this.#remote.port)) {
      throw this.#error("invalid-argument", operation, `connected to ${formatSocketAddress(this.#remote)}, not ${formatSocketAddress(target)}`);
    }
    this.#checkDestination(target, target.port);
    this.#lastTarget = { address: to.address, port: to.port, target };
    return target;
  }

  /** Asks the policy about a destination once; allowed ones are remembered (a bounded set). */
  #checkDestination(target: ParsedIp, port: number): void {
    if (this.#checkSend === undefined) return;
    const key = formatSocketAddress({ address: target.address, port });
    if (this.#allowed.has(key)) return;
    this.#checkSend(target, port);
    if (this.#allowed.size >= MAX_REMEMBERED) this.#allowed.clear();
    this.#allowed.add(key);
  }

  #checkTarget(to: UdpTarget, operation: string): ParsedIp {
    if (typeof to !== "object" || to === null) throw this.#error("invalid-argument", operation, "expected { address, port }");
    const parsed = typeof to.address === "string" ? parseIp(to.address) : undefined;
    if (parsed === undefined) {
      throw this.#error("invalid-argument", operation, `address must be an IP address (not a name), got ${describeValue(to.address)}`);
    }
    if (typeof to.port !== "number" || !Number.isInteger(to.port) || to.port < 1 || to.port > 65535) {
      throw this.#error("invalid-argument", operation, `port must be an integer from 1 to 65535, got ${describeValue(to.port)}`);
    }
    if (parsed.family !== this.localAddress.family) {
      throw this.#error("invalid-argument", operation, `an ${parsed.family} address on an ${this.localAddress.family} socket`);
    }
    return parsed;
  }

  #checkGroup(group: IpAddress, iface: IpAddress | undefined, operation: string): [IpAddress, IpAddress | undefined] {
    this.#checkOpen(operation);
    const parsed = typeof group === "string" ? parseIp(group) : undefined;
    if (parsed === undefined) throw this.#error("invalid-argument", operation, `group must be an IP address, got ${describeValue(group)}`);
    if (iface === undefined) return [parsed.address, undefined];
    const local = typeof iface === "string" ? parseIp(iface) : undefined;
    if (local === undefined) throw this.#error("invalid-argument", operation, `interfaceAddress must be an IP address, got ${describeValue(iface)}`);
    return [parsed.address, local.address];
  }

  #checkTtl(ttl: number, operation: string, min = 1): number {
    this.#checkOpen(operation);
    if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < min || ttl > 255) {
      throw this.#error("invalid-argument", operation, `ttl must be an integer from ${min} to 255, got ${describeValue(ttl)}`);
    }
    return ttl;
  }

  #checkOpen(operation: string): void {
    if (this.#closed) throw this.#error("invalid-state", operation, "socket is closed");
  }

  #error(code: SocketError["code"], operation: string, detail: string): SocketError {
    return socketError(code, operation, this.#label, detail);
  }
}
