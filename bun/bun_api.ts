/**
 * The part of the `Bun` global the Bun driver uses, typed here so the driver type-checks
 * without Bun's global types, and reached through `globalThis`.
 *
 * @module
 */

/** A connected `Bun.Socket`, with `data` holding the driver's state for the socket. */
export interface BunSocket<T> {
  data: T;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  write(bytes: Uint8Array): number;
  shutdown(readSide?: boolean): void;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay(on?: boolean): boolean;
  setKeepAlive(on?: boolean, delayMs?: number): boolean;
}

/** Handlers of `Bun.connect` and `Bun.listen`. */
export interface BunSocketHandler<T> {
  /** What `data` receives: Bun's default is a `Buffer`. */
  binaryType?: "uint8array";
  open?(socket: BunSocket<T>): void;
  data?(socket: BunSocket<T>, data: Uint8Array): void;
  drain?(socket: BunSocket<T>): void;
  end?(socket: BunSocket<T>): void;
  close?(socket: BunSocket<T>, error?: Error): void;
  error?(socket: BunSocket<T>, error: Error): void;
  connectError?(socket: BunSocket<T>, error: Error): void;
}

/** `Bun.listen`'s result. */
export interface BunTcpListener {
  readonly hostname: string;
  readonly port: number;
  stop(closeActiveConnections?: boolean): void;
}

/** `Bun.listen({ unix })`'s result. */
export interface BunUnixListener {
  readonly unix: string;
  stop(closeActiveConnections?: boolean): void;
}

/** `Bun.udpSocket`'s socket. */
export interface BunUdpSocket {
  readonly address: { address: string; port: number; family: string };
  send(data: Uint8Array, port: number, address: string): boolean;
  /** Flat list: data, port, address, data, port, address, ... */
  sendMany(packets: readonly (Uint8Array | number | string)[]): number;
  setBroadcast(on: boolean): boolean;
  setTTL(ttl: number): number;
  setMulticastTTL(ttl: number): number;
  setMulticastLoopback(on: boolean): boolean;
  addMembership(group: string, interfaceAddress?: string): boolean;
  dropMembership(group: string, interfaceAddress?: string): boolean;
  close(): void;
}

/** Handlers of `Bun.udpSocket`. */
export interface BunUdpHandler {
  data?(socket: BunUdpSocket, data: Uint8Array, port: number, address: string): void;
  drain?(socket: BunUdpSocket): void;
  error?(socket: BunUdpSocket, error: Error): void;
}

/** The `Bun` global, as far as the driver goes. */
export interface BunApi {
  udpSocket(
    options: { hostname: string; port: number; binaryType?: "uint8array"; socket?: BunUdpHandler },
  ): Promise<BunUdpSocket>;
  connect<T>(options: {
    hostname: string;
    port: number;
    allowHalfOpen?: boolean;
    data?: T;
    socket: BunSocketHandler<T>;
  }): Promise<BunSocket<T>>;
  listen<T>(options: {
    hostname: string;
    port: number;
    allowHalfOpen?: boolean;
    ipv6Only?: boolean;
    exclusive?: boolean;
    socket: BunSocketHandler<T>;
  }): BunTcpListener;
  connect<T>(options: { unix: string; allowHalfOpen?: boolean; socket: BunSocketHandler<T> }): Promise<BunSocket<T>>;
  listen<T>(options: { unix: string; allowHalfOpen?: boolean; socket: BunSocketHandler<T> }): BunUnixListener;
  dns: {
    lookup(name: string, options?: { family?: 0 | 4 | 6 }): Promise<{ address: string; family: 4 | 6 }[]>;
  };
}

/** The running Bun's global; only call this on Bun. */
export function bun(): BunApi {
  return (globalThis as unknown as { Bun: BunApi }).Bun;
}
