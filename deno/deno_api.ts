/**
 * The part of the `Deno` namespace the Deno driver uses, typed here so the driver
 * type-checks under `tsc` and `deno check` alike, and reached through `globalThis`.
 *
 * @module
 */

/** `Deno.NetAddr`. */
export interface DenoNetAddr {
  transport: "tcp" | "udp";
  hostname: string;
  port: number;
}

/** `Deno.TcpConn`. */
export interface DenoTcpConn {
  readonly localAddr: DenoNetAddr;
  readonly remoteAddr: DenoNetAddr;
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay(on?: boolean): void;
  setKeepAlive(on?: boolean): void;
}

/** `Deno.UnixAddr`: `path` is null for an unnamed socket. */
export interface DenoUnixAddr {
  transport: "unix";
  path: string | null;
}

/** `Deno.UnixConn`. */
export interface DenoUnixConn {
  readonly localAddr: DenoUnixAddr;
  readonly remoteAddr: DenoUnixAddr;
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
}

/** `Deno.UnixListener`. */
export interface DenoUnixListener {
  readonly addr: DenoUnixAddr;
  accept(): Promise<DenoUnixConn>;
  close(): void;
}

/** `Deno.TcpListener`. */
export interface DenoTcpListener {
  readonly addr: DenoNetAddr;
  accept(): Promise<DenoTcpConn>;
  close(): void;
}

/** `Deno.ResolveDnsOptions`. */
export interface DenoResolveDnsOptions {
  nameServer?: { ipAddr: string; port?: number };
  signal?: AbortSignal;
}

/** `Deno.DatagramConn` (UDP; needs `--unstable-net`). */
/** `Deno.MulticastV4Membership` / `V6`. */
export interface DenoMembership {
  leave(): Promise<void>;
  setLoopback(on: boolean): Promise<void>;
  setTTL(ttl: number): Promise<void>;
}

export interface DenoDatagramConn {
  readonly addr: DenoNetAddr;
  joinMulticastV4(group: string, interfaceAddress: string): Promise<DenoMembership>;
  joinMulticastV6(group: string, interfaceIndex: number): Promise<DenoMembership>;
  receive(buffer?: Uint8Array): Promise<[Uint8Array, DenoNetAddr]>;
  send(data: Uint8Array, to: DenoNetAddr): Promise<number>;
  close(): void;
}

/** `Deno.UnixAddr` of a `unixpacket` (SOCK_DGRAM) socket: `path` is null for an unbound one. */
export interface DenoUnixPacketAddr {
  transport: "unixpacket";
  path: string | null;
}

/** `Deno.DatagramConn` over a Unix datagram socket (`transport: "unixpacket"`, needs `--unstable-net`). */
export interface DenoUnixDatagramConn {
  readonly addr: DenoUnixPacketAddr;
  /** The datagram is a view on `buffer`; a longer one is cut to its length. */
  receive(buffer?: Uint8Array): Promise<[Uint8Array, DenoUnixPacketAddr]>;
  send(data: Uint8Array, to: { transport: "unixpacket"; path: string }): Promise<number>;
  close(): void;
}

/** The `Deno` namespace, as far as the driver goes. */
export interface DenoApi {
  /** Only present under `--unstable-net`. */
  listenDatagram?: {
    (options: { hostname: string; port: number; transport: "udp"; reuseAddress?: boolean; ipv6Only?: boolean }): DenoDatagramConn;
    (options: { transport: "unixpacket"; path: string }): DenoUnixDatagramConn;
  };
  connect(options: { hostname: string; port: number; transport?: "tcp"; signal?: AbortSignal }): Promise<DenoTcpConn>;
  connect(options: { transport: "unix"; path: string }): Promise<DenoUnixConn>;
  listen(options: { hostname: string; port: number; transport?: "tcp" }): DenoTcpListener;
  listen(options: { transport: "unix"; path: string }): DenoUnixListener;
  resolveDns(name: string, type: "A" | "AAAA", options?: DenoResolveDnsOptions): Promise<string[]>;
  errors: Record<string, new (...args: never[]) => Error>;
}

/** The running Deno's namespace; only call this on Deno. */
export function deno(): DenoApi {
  return (globalThis as unknown as { Deno: DenoApi }).Deno;
}
