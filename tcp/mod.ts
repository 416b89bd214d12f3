/**
 * TCP: `connect` (with Happy Eyeballs over every address of a name) and `listen`, the
 * same on Node.js, Deno and Bun.
 *
 * @example Connect, send, read the reply
 * ```ts ignore
 * import { connect } from "@unisock/unisock/tcp";
 * await using conn = await connect({ hostname: "localhost", port: 8080 }, { timeout: 5000 });
 * await conn.write(new TextEncoder().encode("ping\n"));
 * const buffer = new Uint8Array(1024);
 * const count = await conn.read(buffer);
 * ```
 *
 * @module
 */
import type { IpSocketAddress } from "../core/address.ts";
import { ambientNetwork } from "../network/ambient.ts";
import type { Connection } from "../core/connection.ts";
import type { Listener } from "../core/listener.ts";
import type { TcpConnectAddress, TcpConnectOptions } from "./connect.ts";
import type { TcpListenOptions } from "./listen.ts";

export { Connection } from "../core/connection.ts";
export type { ReadOptions, StartTlsInit } from "../core/connection.ts";
export type {
  CertificateAndKey,
  ClientCertificateMode,
  PeerCertificate,
  TlsClientOptions,
  TlsInfo,
  TlsServerOptions,
} from "../core/tls.ts";
export { Listener } from "../core/listener.ts";
export type { TcpConnectAddress, TcpConnectOptions } from "./connect.ts";
export type { TcpListenOptions } from "./listen.ts";

/**
 * Opens a TCP connection. A name is resolved with `resolveAddresses`, and its addresses
 * are raced with Happy Eyeballs (RFC 8305: 250 ms stagger, first to connect wins).
 *
 * @param remote `{ hostname, port }`: a name or an IP literal, and a port from 1 to 65535.
 * @param options `signal` and `timeout` for connecting, `noDelay`, `keepAlive`, `localAddress`.
 * @returns The connection.
 *
 * @example Connect with a timeout
 * ```ts ignore
 * import { connect } from "./mod.ts";
 * const conn = await connect({ hostname: "127.0.0.1", port: 5432 }, { timeout: 2000 });
 * conn.close();
 * ```
 */
export function connect(remote: TcpConnectAddress, options?: TcpConnectOptions): Promise<Connection<IpSocketAddress>> {
  return ambientNetwork.tcp.connect(remote, options);
}

/**
 * Listens for TCP connections.
 *
 * @param options `{ hostname?, port, backlog?, reuseAddress?, ipv6Only? }`; `port: 0` picks a free port.
 * @returns The listener; `listener.localAddress` tells the port.
 *
 * @example Listen on a free port
 * ```ts
 * import { listen } from "./mod.ts";
 * await using listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * console.log(listener.localAddress);
 * ```
 */
export function listen(options: TcpListenOptions): Promise<Listener<IpSocketAddress>> {
  return ambientNetwork.tcp.listen(options);
}
