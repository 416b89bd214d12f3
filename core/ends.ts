/**
 * The two ends of a connection as a driver reports them, in the portable address forms.
 * One type for TCP and Unix sockets, so each driver has one connection class for both.
 *
 * @module
 */
import { describeSocketAddress, ipSocketAddress } from "./address.ts";
import type { IpSocketAddress, UnixSocketAddress } from "./address.ts";

/** A stream protocol: the word that starts operation names (`tcp.read`, `unix.write`). */
export type StreamProtocol = "tcp" | "unix";

/** Which protocol a connection speaks, and its two ends. */
export interface ConnectionEnds<A extends IpSocketAddress | UnixSocketAddress> {
  readonly protocol: StreamProtocol;
  readonly localAddress: A;
  readonly remoteAddress: A;
}

/** The ends of a TCP connection from what the runtime reported (addresses canonicalised). */
export function tcpEnds(
  localAddress: string | undefined,
  localPort: number | undefined,
  remoteAddress: string | undefined,
  remotePort: number | undefined,
): ConnectionEnds<IpSocketAddress> {
  return {
    protocol: "tcp",
    localAddress: ipSocketAddress(localAddress ?? "", localPort ?? 0),
    remoteAddress: ipSocketAddress(remoteAddress ?? "", remotePort ?? 0),
  };
}

/**
 * The ends of a Unix connection. An unnamed socket (the connecting side, which never
 * binds) is `""`, whatever the runtime reported (`undefined`, `null`).
 */
export function unixEnds(localPath: string | null | undefined, remotePath: string | null | undefined): ConnectionEnds<UnixSocketAddress> {
  return { protocol: "unix", localAddress: { path: localPath ?? "" }, remoteAddress: { path: remotePath ?? "" } };
}

/**
 * What names the connection in messages: the peer, or, for an accepted Unix connection
 * whose peer is unnamed, the path it was accepted on.
 */
export function endsTarget(ends: ConnectionEnds<IpSocketAddress | UnixSocketAddress>): string {
  const { localAddress, remoteAddress } = ends;
  const unnamed = "path" in remoteAddress && remoteAddress.path === "";
  return describeSocketAddress(unnamed ? localAddress : remoteAddress);
}
