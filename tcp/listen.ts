/**
 * `tcp.listen`: checks its input and opens a listening socket through the driver.
 *
 * @module
 */
import { checkPort, describeValue, parseIp } from "../core/address.ts";
import type { IpSocketAddress, ParsedIp } from "../core/address.ts";
import type { Driver } from "../core/driver.ts";
import { socketError } from "../core/errors.ts";
import { Listener } from "../core/listener.ts";
import { checkTlsServer } from "../core/tls.ts";
import type { TlsServerOptions } from "../core/tls.ts";
import { tlsRawListener } from "../core/tls_listener.ts";
import type { NameResolver } from "./connect.ts";

/**
 * Where and how to listen.
 *
 * @example Using `TcpListenOptions`
 * ```ts
 * import type { TcpListenOptions } from "./listen.ts";
 * const options: TcpListenOptions = { hostname: "127.0.0.1", port: 0 };
 * console.log(options.port);
 * ```
 */
export interface TcpListenOptions {
  /** The address (or a name, whose first address is used). Default `0.0.0.0`, as in Deno and Bun. */
  hostname?: string;
  /** The port; 0 picks a free one, readable from `listener.localAddress`. */
  port: number;
  /** The length of the kernel's queue of connections not yet accepted. */
  backlog?: number;
  /**
   * SO_REUSEADDR. Every runtime sets it on listening sockets (rebinding over TIME_WAIT),
   * so `true` is the default and `false` is `not-supported`.
   */
  reuseAddress?: boolean;
  /** Listen on IPv6 only (no IPv4-mapped connections) when hostname is `::`. */
  ipv6Only?: boolean;
  /**
   * TLS: the server's certificate and key (and SNI, client certificates, ALPN). `accept()`
   * then yields only connections whose handshake succeeded.
   */
  tls?: TlsServerOptions;
}

/** Asked before any system call: throws `access-denied` when the policy does not allow it. */
export type InboundCheck = (address: ParsedIp, port: number, hostname: string) => void;

/**
 * Opens a TCP listener through `driver`.
 *
 * @returns The listener.
 */
export async function listenTcp(
  driver: Driver,
  resolve: NameResolver,
  checkInbound: InboundCheck,
  options: TcpListenOptions,
): Promise<Listener<IpSocketAddress>> {
  const operation = "tcp.listen";
  if (typeof options !== "object" || options === null) {
    throw socketError("invalid-argument", operation, "", `expected { hostname?, port }, got ${describeValue(options)}`);
  }
  const hostname = options.hostname ?? "0.0.0.0";
  if (typeof hostname !== "string" || hostname.length === 0) {
    throw socketError("invalid-argument", operation, "", `hostname must be a non-empty string, got ${describeValue(hostname)}`);
  }
  const port = checkPort(options.port, operation, true);
  const backlog = options.backlog;
  if (backlog !== undefined && (typeof backlog !== "number" || !Number.isInteger(backlog) || backlog < 1)) {
    throw socketError("invalid-argument", operation, "", `backlog must be a positive integer, got ${describeValue(backlog)}`);
  }
  if (options.reuseAddress === false) {
    throw socketError("not-supported", operation, "", "every runtime sets SO_REUSEADDR on listening sockets; it cannot be turned off");
  }
  const tls = options.tls === undefined ? undefined : checkTlsServer(options.tls, operation);
  if (tls !== undefined) driver.checkTlsKeys(tls, operation);
  let address = parseIp(hostname);
  if (address === undefined) {
    const [first] = await resolve(hostname, undefined);
    address = parseIp(first) as ParsedIp;
  }
  checkInbound(address, port, hostname);
  const sockets = tls === undefined ? driver : driver.tlsSockets ?? driver;
  const raw = await sockets.tcpListen({
    address: address.address,
    port,
    family: address.family,
    backlog,
    reuseAddress: true,
    ipv6Only: options.ipv6Only === true,
    tls,
  });
  if (tls === undefined) return new Listener(raw, "tcp", driver);
  return new Listener(tlsRawListener(raw, "tcp", (connection) => driver.startTls(connection, tls)), "tcp", driver);
}
