/**
 * The part of the `Bun` global the Bun driver uses, typed here so the driver type-checks
 * without Bun's global types, and reached through `globalThis`.
 *
 * @module
 */
import type { X509Certificate } from "node:crypto";
import type { PeerCertificate } from "node:tls";

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
  /**
   * Starts TLS on this socket: `[raw, tls]`. `raw` keeps this socket's handlers and `data`
   * and still gets every ciphertext chunk and the close; `tls` gets `socket`'s handlers (its
   * `open` is called before this returns), the plaintext, and `data`. A socket accepted by
   * `Bun.listen` becomes the server side. Bytes already read off the socket must come back
   * as `initialData`.
   */
  upgradeTLS<U>(options: {
    tls: BunTlsOptions;
    socket: BunSocketHandler<U>;
    data?: U;
    initialData?: Uint8Array;
  }): [BunSocket<T>, BunSocket<U>];
  /** TLS only: whether the peer's certificate was verified. */
  readonly authorized?: boolean;
  /** TLS only: the peer's certificate, if it sent one. */
  getPeerX509Certificate?(): X509Certificate | undefined;
  /** TLS only: the peer's certificate as `node:tls` describes it (for `tls.checkServerIdentity`). */
  getPeerCertificate?(): PeerCertificate | object | null | undefined;
  /** TLS only. */
  getCipher?(): { name: string; standardName?: string; version?: string };
  /** TLS only: `"TLSv1.2"`, `"TLSv1.3"`. */
  getTLSVersion?(): string;
  /** TLS only: the ALPN protocol agreed on, or false. */
  readonly alpnProtocol?: string | false | null;
  /** TLS server only: the SNI name the client sent. */
  getServername?(): string | undefined;
}

/** The `tls` option of `upgradeTLS`. */
export interface BunTlsOptions {
  /** A context made once (`tls.createSecureContext(...).context`) instead of PEM parsed per handshake. */
  secureContext?: unknown;
  ca?: string[];
  cert?: string;
  key?: string;
  serverName?: string;
  rejectUnauthorized?: boolean;
  requestCert?: boolean;
  /** Wire format: each protocol's length byte, then its bytes. */
  ALPNProtocols?: ArrayBuffer;
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
  /** TLS only: the handshake is over; `success` false when it failed or the peer was refused. */
  handshake?(socket: BunSocket<T>, success: boolean, authorizationError: Error | null): void;
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

/** A `Bun.udpSocket` made with `connect`: it sends without a destination (with one, it throws). */
export interface BunConnectedUdpSocket {
  send(data: Uint8Array): boolean;
  sendMany(packets: readonly Uint8Array[]): number;
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
    options: {
      hostname: string;
      port: number;
      binaryType?: "uint8array";
      /** Connects the socket (`connect(2)`): it then sends without a destination ({@linkcode BunConnectedUdpSocket}). */
      connect?: { hostname: string; port: number };
      socket?: BunUdpHandler;
    },
  ): Promise<BunUdpSocket>;
  connect<T>(options: {
    hostname: string;
    port: number;
    allowHalfOpen?: boolean;
    /** TLS from the first byte; the `handshake` handler reports its end. */
    tls?: BunTlsOptions;
    data?: T;
    socket: BunSocketHandler<T>;
  }): Promise<BunSocket<T>>;
  connect<T>(options: { unix: string; allowHalfOpen?: boolean; socket: BunSocketHandler<T> }): Promise<BunSocket<T>>;
  listen<T>(options: {
    hostname: string;
    port: number;
    allowHalfOpen?: boolean;
    ipv6Only?: boolean;
    exclusive?: boolean;
    tls?: BunTlsOptions;
    socket: BunSocketHandler<T>;
  }): BunTcpListener;
  listen<T>(options: { unix: string; allowHalfOpen?: boolean; socket: BunSocketHandler<T> }): BunUnixListener;
  dns: {
    lookup(name: string, options?: { family?: 0 | 4 | 6 }): Promise<{ address: string; family: 4 | 6 }[]>;
  };
}

/** The running Bun's global; only call this on Bun. */
export function bun(): BunApi {
  return (globalThis as unknown as { Bun: BunApi }).Bun;
}
