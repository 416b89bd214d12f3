/**
 * `udp.bind`: checks its input and binds a UDP socket through the driver.
 *
 * @module
 */
import { checkPort, describeValue, parseIp } from "../core/address.ts";
import type { ParsedIp } from "../core/address.ts";
import type { Driver } from "../core/driver.ts";
import { socketError } from "../core/errors.ts";
import type { NameResolver } from "../tcp/connect.ts";
import { DatagramQueue } from "./datagram_queue.ts";
import { UdpSocket } from "./socket.ts";
import type { SendCheck, UdpDatagram } from "./socket.ts";

/**
 * Where and how to bind.
 *
 * @example Using `UdpBindOptions`
 * ```ts
 * import type { UdpBindOptions } from "./bind.ts";
 * const options: UdpBindOptions = { hostname: "127.0.0.1", port: 0 };
 * console.log(options.hostname);
 * ```
 */
export interface UdpBindOptions {
  /** The local address (or a name, whose first address is used). Default `0.0.0.0`. */
  hostname?: string;
  /** The local port; 0 (the default) picks a free one. */
  port?: number;
  /** SO_REUSEADDR: let several sockets bind the same address and port (for multicast). */
  reuseAddress?: boolean;
  /** Receive IPv6 only (no IPv4-mapped traffic) when bound to `::`. */
  ipv6Only?: boolean;
  /** How many received datagrams wait for `receive()` before the oldest are dropped. Default 1024. */
  receiveQueueSize?: number;
}

/**
 * Asked before binding: throws `access-denied` when the policy does not allow it. Returns
 * undefined when the socket may hear every peer, or a filter of the peers it may hear.
 */
export type BindCheck = (address: ParsedIp, port: number, hostname: string) => PeerFilter | undefined;

/** Whether a datagram from `address` (as the runtime reports it) and `port` may be received. */
export type PeerFilter = (address: string, port: number) => boolean;

const DEFAULT_QUEUE = 1024;

/**
 * Binds a UDP socket through `driver`.
 *
 * @returns The socket.
 */
export async function bindUdp(
  driver: Driver,
  resolve: NameResolver,
  checkBind: BindCheck,
  checkSend: SendCheck | undefined,
  options: UdpBindOptions = {},
): Promise<UdpSocket> {
  const operation = "udp.bind";
  if (typeof options !== "object" || options === null) {
    throw socketError("invalid-argument", operation, "", `expected { hostname?, port? }, got ${describeValue(options)}`);
  }
  const hostname = options.hostname ?? "0.0.0.0";
  if (typeof hostname !== "string" || hostname.length === 0) {
    throw socketError("invalid-argument", operation, "", `hostname must be a non-empty string, got ${describeValue(hostname)}`);
  }
  const port = checkPort(options.port ?? 0, operation, true);
  const size = options.receiveQueueSize ?? DEFAULT_QUEUE;
  if (!Number.isInteger(size) || size < 1) {
    throw socketError("invalid-argument", operation, "", `receiveQueueSize must be a positive integer, got ${describeValue(size)}`);
  }
  let address = parseIp(hostname);
  if (address === undefined) {
    const [first] = await resolve(hostname, undefined);
    address = parseIp(first) as ParsedIp;
  }
  const hears = checkBind(address, port, hostname);
  const queue = new DatagramQueue<UdpDatagram>(size);
  // Not const: a datagram may arrive before the socket below exists (then it is not connected).
  // deno-lint-ignore prefer-const
  let socket: UdpSocket | undefined;
  const raw = await driver.udpBind(
    {
      address: address.address,
      port,
      family: address.family,
      reuseAddress: options.reuseAddress === true,
      ipv6Only: options.ipv6Only === true,
    },
    {
      message(datagram) {
        // A peer the policy does not let this socket hear is dropped, as a firewall would.
        if (hears !== undefined && !hears(datagram.address, datagram.port)) return;
        // Once connected, only the peer's datagrams count.
        const remote = socket?.remoteAddress;
        if (remote === undefined || (datagram.port === remote.port && datagram.address === remote.address)) {
          // The driver's address is canonical already: no parsing per datagram.
          const { address, port } = datagram;
          queue.push({ data: datagram.data, remoteAddress: { address, port, family: address.includes(":") ? "ipv6" : "ipv4" } });
        }
      },
      error(error) {
        queue.fail(error);
      },
    },
  );
  socket = new UdpSocket(raw, queue, checkSend);
  return socket;
}
