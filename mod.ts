/**
 * unisock: one socket and resolver API for Node.js, Deno and Bun, shaped after WASI
 * sockets. `resolveAddresses` turns names into addresses; `tcp`, `udp` and `unix` open
 * sockets; every failure is a `SocketError` with a WASI error code.
 *
 * @example An echo round trip over TCP
 * ```ts
 * import { tcp } from "./mod.ts";
 * await using listener = await tcp.listen({ hostname: "127.0.0.1", port: 0 });
 * const accepted = listener.accept();
 * await using client = await tcp.connect({ hostname: "127.0.0.1", port: listener.localAddress.port });
 * await using server = await accepted;
 * await client.write(new TextEncoder().encode("hi"));
 * const buffer = new Uint8Array(2);
 * console.log(await server.read(buffer)); // 2
 * ```
 *
 * @module
 */
export { resolveAddresses } from "./resolve/mod.ts";
export { WireResolver } from "./resolve/mod.ts";
export type { LookupFamily, Resolver, ResolveOptions, WireResolverOptions, WireResolverStats } from "./resolve/mod.ts";
export * as tcp from "./tcp/mod.ts";
export * as udp from "./udp/mod.ts";
export * as unix from "./unix/mod.ts";
export { SOCKET_ERROR_CODES, SocketError } from "./core/errors.ts";
export type { SocketErrorCode } from "./core/errors.ts";
export type { IpAddress, IpFamily, IpSocketAddress, UnixSocketAddress } from "./core/address.ts";
export { Connection } from "./core/connection.ts";
export type { ReadOptions, StartTlsInit } from "./core/connection.ts";
export type {
  CertificateAndKey,
  ClientCertificateMode,
  PeerCertificate,
  TlsClientOptions,
  TlsInfo,
  TlsServerOptions,
} from "./core/tls.ts";
export { Listener } from "./core/listener.ts";
export { Network } from "./network/network.ts";
export { createNetwork } from "./network/capability/create.ts";
export type { CreateNetworkOptions } from "./network/capability/create.ts";
export { parseNetworkFlags } from "./network/capability/flags.ts";
export type { NetworkFlagRules } from "./network/capability/flags.ts";
export type { NetworkPolicyInit, NetworkRules } from "./network/capability/rules.ts";
export type { SocketsOperations, TcpOperations } from "./network/network.ts";
export { Socket, SocketsApiError } from "./sockets/mod.ts";
export type { SocketAddress, SocketChunk, SocketInfo, SocketOptions, StartTlsOptions } from "./sockets/mod.ts";
export type { TcpConnectAddress, TcpConnectOptions } from "./tcp/connect.ts";
export type { TcpListenOptions } from "./tcp/listen.ts";
export type { UnixOperations } from "./network/network.ts";
export type { UnixConnectOptions } from "./unix/connect.ts";
export type { UnixListenOptions } from "./unix/listen.ts";
export type { UnixDatagramBindOptions } from "./unix/bind_datagram.ts";
export { UnixDatagramSocket } from "./unix/datagram_socket.ts";
export type { UnixDatagram, UnixDatagramTarget } from "./unix/datagram_socket.ts";
export { UdpSocket } from "./udp/socket.ts";
export type { UdpDatagram, UdpTarget } from "./udp/socket.ts";
export type { UdpBindOptions } from "./udp/bind.ts";
export type { UdpOperations } from "./network/network.ts";
