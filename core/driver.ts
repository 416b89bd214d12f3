/**
 * The internal driver interface: the only place a runtime's native socket API is touched.
 * `node/`, `deno/` and `bun/` each implement it. Every promise a driver returns rejects
 * with a {@linkcode SocketError} (already mapped), never with a runtime error.
 *
 * @module
 */
import type { IpAddress, IpFamily, IpSocketAddress, UnixSocketAddress } from "./address.ts";
import type { SocketError } from "./errors.ts";
import type { CheckedTls, CheckedTlsClient, CheckedTlsServer, TlsInfo } from "./tls.ts";

/** Names of the drivers. */
export type DriverName = "node" | "deno" | "bun";

/** What a driver needs to open one TCP connection to one address. */
export interface TcpConnectRequest {
  address: IpAddress;
  port: number;
  family: IpFamily;
  localAddress?: IpAddress;
  /** Aborts the attempt; the driver releases the socket and rejects with `signal.reason`. */
  signal?: AbortSignal;
  noDelay: boolean;
  keepAlive: boolean;
  /**
   * With `tls`: its options, for a driver whose socket can speak TLS from its first byte
   * (Bun's `Bun.connect({ tls })`); its `startTls` then finishes that handshake. Other
   * drivers ignore it.
   */
  tls?: CheckedTlsClient;
}

/** What a driver needs to listen on one address. */
export interface TcpListenRequest {
  address: IpAddress;
  port: number;
  family: IpFamily;
  backlog?: number;
  reuseAddress: boolean;
  ipv6Only: boolean;
  /** With `tls`: its options, as for {@linkcode TcpConnectRequest.tls} (Bun's `Bun.listen({ tls })`). */
  tls?: CheckedTlsServer;
}

/** Which families a lookup asks for. */
export type LookupFamily = IpFamily | "any";

/**
 * A connected byte stream as a driver gives it. The portable `Connection` adds state
 * checks, streams and disposal on top; the driver only moves bytes.
 */
export interface RawConnection<A extends IpSocketAddress | UnixSocketAddress = IpSocketAddress> {
  readonly localAddress: A;
  readonly remoteAddress: A;
  /**
   * Reads into `buffer`; the count of bytes, or null at end of stream. One call at a
   * time: a read while another is pending rejects with `invalid-state`, so the portable
   * layer needs no promise of its own per read.
   */
  read(buffer: Uint8Array): Promise<number | null>;
  /**
   * Writes all of `bytes`. `undefined` when the runtime took every byte at once and no
   * longer needs `bytes` (the fast path, no promise made); otherwise a promise that
   * resolves once it no longer needs them. One call at a time.
   */
  write(bytes: Uint8Array): Promise<void> | undefined;
  /**
   * Optional: the next received bytes in a buffer the runtime handed over and no longer
   * uses (no copy), or null at end of stream; shares `read`'s one-call-at-a-time rule.
   * The portable `readable` stream uses it where a driver has it (Node, Bun).
   */
  readChunk?(): Promise<Uint8Array | null>;
  /** Sends FIN once queued writes are out; reading goes on. */
  closeWrite(): Promise<void>;
  /** Releases the socket at once; pending reads resolve with null. */
  close(): void;
  setNoDelay(on: boolean): void;
  setKeepAlive(on: boolean, delayMs?: number): void;
  /** Resolves when the socket is gone: closed by us, or by a reset. Never rejects. */
  readonly closed: Promise<void>;
  /** The session, on a connection that speaks TLS; undefined on plaintext. */
  readonly tls?: TlsInfo;
  /** Whether a `read` or `readChunk` is pending. */
  reading(): boolean;
}

/** A listening socket as a driver gives it. */
export interface RawListener<A extends IpSocketAddress | UnixSocketAddress = IpSocketAddress> {
  readonly localAddress: A;
  /** The next accepted connection; rejects with `invalid-state` once closed. */
  accept(): Promise<RawConnection<A>>;
  /** Stops listening; pending accepts reject with `invalid-state`. */
  close(): void;
}

/** What a driver needs to bind one UDP socket. */
export interface UdpBindRequest {
  address: IpAddress;
  port: number;
  family: IpFamily;
  reuseAddress: boolean;
  ipv6Only: boolean;
  /**
   * Optional connected mode: connects the socket to this peer once bound (`connect(2)`
   * where the runtime has it: Node's and Bun's sockets; Deno's `node:dgram` only records
   * it). Then only the peer's datagrams reach the sink (the kernel filters, and the
   * driver checks the sender where the runtime does not filter), and `send` goes to the
   * peer without naming it. A driver whose runtime cannot connect (Deno's
   * `Deno.listenDatagram`) binds unconnected: the socket's `remoteAddress` tells which.
   */
  connect?: { address: IpAddress; port: number };
}

/** One received datagram; `address` canonical. */
export interface Datagram {
  data: Uint8Array;
  address: IpAddress;
  port: number;
}

/** Where a driver hands what a UDP socket receives. */
export interface DatagramSink {
  /** A datagram arrived; `data` is the receiver's to keep. */
  message(datagram: Datagram): void;
  /** The socket failed after binding (it is then closed). */
  error(error: SocketError): void;
}

/** One datagram to send. */
export interface OutgoingDatagram {
  data: Uint8Array;
  address: IpAddress;
  port: number;
}

/** A bound UDP socket as a driver gives it. Option setters throw `not-supported` where the runtime lacks them. */
export interface RawUdpSocket {
  readonly localAddress: IpSocketAddress;
  /** The peer it is connected to (bound with `connect`); undefined when unconnected. */
  readonly remoteAddress?: IpSocketAddress;
  /**
   * Sends one datagram. On a connected socket `address` and `port` must be the peer's (the
   * driver sends without them). `undefined` when the runtime sent it at once and no longer needs
   * `data` (no promise made); otherwise a promise that resolves once it no longer does.
   *
   * With `failed`, the caller promises not to touch `data` again and needs to hear only of
   * failures: a driver whose runtime reports a send later may then return `undefined` at
   * once and call `failed` (at most once, never synchronously from `send`) if the send
   * fails. Without it, or where a driver knows at once, failures come as before. On a
   * connected socket a driver may instead leave failures to the sink's `error` (Node's does:
   * a refused port comes there), and a failure the runtime does not report is then lost.
   */
  send(data: Uint8Array, address: IpAddress, port: number, failed?: (error: unknown) => void): Promise<void> | undefined;
  /** Sends several in one call where the runtime has a batch send (Bun); resolves with how many went. On a connected socket, all to the peer. */
  sendMany?(datagrams: readonly OutgoingDatagram[]): Promise<number>;
  setBroadcast(on: boolean): void;
  setTtl(ttl: number): void;
  setMulticastTtl(ttl: number): void;
  setMulticastLoopback(on: boolean): void;
  joinMulticast(group: IpAddress, interfaceAddress?: IpAddress): Promise<void>;
  leaveMulticast(group: IpAddress, interfaceAddress?: IpAddress): Promise<void>;
  /** Releases the socket; nothing is delivered to the sink after this. */
  close(): void;
}

/** What a driver needs to connect to a Unix domain socket. */
export interface UnixConnectRequest {
  /** A file path, or `"\0name"` for a Linux abstract name (only when `unixAbstract`). */
  path: string;
  /** Aborts connecting; the driver releases the socket and rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** What a driver needs to listen on a Unix domain socket (the portable layer has dealt with stale files and mode). */
export interface UnixListenRequest {
  path: string;
  backlog?: number;
}

/** What a driver needs to bind a Unix datagram socket (the portable layer has dealt with stale files and mode). */
export interface UnixDatagramBindRequest {
  /** A file path, or `"\0name"` for a Linux abstract name (only when `unixAbstract`). */
  path: string;
}

/** One received Unix datagram; `path` is the sender's, `""` for an unbound sender. */
export interface RawUnixDatagram {
  data: Uint8Array;
  path: string;
}

/**
 * A bound Unix datagram socket as a driver gives it. Receiving is pulled, one call at a
 * time, since Deno's socket cannot send while a receive waits on it.
 */
export interface RawUnixDatagramSocket {
  readonly localAddress: UnixSocketAddress;
  /**
   * The next datagram (`data` is the caller's to keep); rejects with `invalid-state` once
   * closed. It cannot be cancelled but by `close()`.
   */
  receive(): Promise<RawUnixDatagram>;
  /**
   * Sends one datagram to the socket at `path`; resolves once the runtime no longer needs
   * `data`. Rejects with `not-supported` while a `receive` waits, where the runtime cannot
   * do both at once (Deno).
   */
  send(data: Uint8Array, path: string): Promise<void>;
  /** Releases the socket (the file stays; the portable layer removes it); a pending `receive` rejects. */
  close(): void;
}

/** One runtime's implementation of everything unisock does natively. */
export interface Driver {
  readonly name: DriverName;
  tcpConnect(request: TcpConnectRequest): Promise<RawConnection>;
  tcpListen(request: TcpListenRequest): Promise<RawListener>;
  udpBind(request: UdpBindRequest, sink: DatagramSink): Promise<RawUdpSocket>;
  /** Whether Linux abstract Unix socket names (`"\0name"`) work on this runtime. */
  readonly unixAbstract: boolean;
  unixConnect(request: UnixConnectRequest): Promise<RawConnection<UnixSocketAddress>>;
  unixListen(request: UnixListenRequest): Promise<RawListener<UnixSocketAddress>>;
  /**
   * Why this runtime cannot bind Unix datagram sockets, or undefined where
   * `unixDatagramBind` works. Asked before any file is touched.
   */
  unixDatagramUnsupported(): string | undefined;
  /** Binds a Unix datagram socket synchronously inside the call (for the mode mask); absent where unsupported. */
  unixDatagramBind?(request: UnixDatagramBindRequest): Promise<RawUnixDatagramSocket>;
  /** Whether `lookup` answers from `/etc/hosts` itself (false for Deno's `resolveDns`). */
  readonly lookupReadsHosts: boolean;
  /**
   * The runtime's own resolver: addresses for `name` (never an IP literal), in the order
   * the runtime gave them. Rejects with a resolver `SocketError`.
   */
  lookup(name: string, family: LookupFamily): Promise<IpAddress[]>;
  /**
   * Runs a TLS handshake over `raw` (client or server side, as `options.side` says) and
   * resolves with the encrypted connection once it is done and the peer verified. `raw` is
   * spent either way: bytes it had received but not yet handed out are TLS's first bytes;
   * on failure (a TLS `SocketError`, or `signal.reason`) it is closed.
   */
  /**
   * The driver whose TCP sockets TLS runs fastest over, where it is not this one: Deno and
   * Bun name Node's (their `node:tls` over a `net.Socket` needs no `Duplex` in between).
   * `tcp.connect` and `tcp.listen` with `tls` open their sockets through it.
   */
  readonly tlsSockets?: Pick<Driver, "tcpConnect" | "tcpListen">;
  /** Checks what only crypto can (PEM that parses, keys that match): `invalid-argument` naming the culprit. */
  checkTlsKeys(options: CheckedTls, operation: string): void;
  startTls<A extends IpSocketAddress | UnixSocketAddress>(
    raw: RawConnection<A>,
    options: CheckedTls,
    signal?: AbortSignal,
  ): Promise<RawConnection<A>>;
}
