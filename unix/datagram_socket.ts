/**
 * The portable `UnixDatagramSocket`: checks, a bounded receive queue, and connect as a
 * default destination and a filter, over a driver's raw Unix datagram socket.
 *
 * @module
 */
import { untilClosed } from "../core/until_closed.ts";
import { resolve } from "node:path";
import { describeValue, formatUnixPath } from "../core/address.ts";
import type { UnixSocketAddress } from "../core/address.ts";
import { checkSignal } from "../core/abort.ts";
import type { Driver, RawUnixDatagram, RawUnixDatagramSocket } from "../core/driver.ts";
import { SocketError, socketError } from "../core/errors.ts";
import { DatagramQueue } from "../udp/datagram_queue.ts";
import type { UnixAccessCheck } from "./connect.ts";
import { checkUnixPath } from "./path.ts";

/** At most this many datagrams wait (only ones whose receive was aborted can). */
const QUEUE_SIZE = 64;

/**
 * A destination: the path of a bound Unix datagram socket (or `"\0name"`), as a string
 * or as a socket address.
 *
 * @example Using `UnixDatagramTarget`
 * ```ts
 * import type { UnixDatagramTarget } from "./datagram_socket.ts";
 * const to: UnixDatagramTarget = { path: "/run/app/dgram.sock" };
 * console.log(typeof to === "string" ? to : to.path);
 * ```
 */
export type UnixDatagramTarget = string | UnixSocketAddress;

/**
 * A received datagram.
 *
 * @example Using `UnixDatagram`
 * ```ts
 * import type { UnixDatagram } from "./datagram_socket.ts";
 * const show = (d: UnixDatagram) => `${d.data.length} bytes from ${d.remoteAddress.path || "(unbound)"}`;
 * console.log(typeof show);
 * ```
 */
export interface UnixDatagram {
  /** The payload. */
  data: Uint8Array;
  /** Who sent it: the path the sender is bound to, `""` for an unbound sender. */
  remoteAddress: UnixSocketAddress;
}

/**
 * Whether a sender's reported path is `peer`. Paths are compared resolved against the
 * current directory, since a sender reports the path as it bound it (maybe relative).
 *
 * @returns Whether they name the same socket.
 */
export function samePeer(peer: string, sender: string): boolean {
  return peer === sender || (sender !== "" && !sender.startsWith("\0") && !peer.startsWith("\0") && resolve(peer) === resolve(sender));
}

/**
 * A bound Unix datagram socket (SOCK_DGRAM), where the runtime has them: Deno under
 * `--unstable-net`. Node.js and Bun reject `unix.bindDatagram` with `not-supported`.
 *
 * Datagrams are read from the kernel only while a `receive()` waits: until then they stay
 * in the kernel's queue, and a sender whose datagram does not fit waits (Linux drops no
 * Unix datagram). Deno cannot send while it waits to receive, so there a `send` during a
 * pending `receive` is `not-supported`: send first, then receive (a request/reply client,
 * or a `for await` server that replies before asking for the next datagram, works).
 *
 * @example Send and receive between two sockets
 * ```ts ignore
 * import { bindDatagram } from "./mod.ts";
 * await using a = await bindDatagram("/tmp/a.sock");
 * await using b = await bindDatagram("/tmp/b.sock");
 * await a.send(new TextEncoder().encode("ping"), b.localAddress);
 * const { data, remoteAddress } = await b.receive();
 * console.log(new TextDecoder().decode(data), remoteAddress.path); // "ping" "/tmp/a.sock"
 * ```
 */
export class UnixDatagramSocket implements AsyncIterable<UnixDatagram> {
  /** The path it is bound to. */
  readonly localAddress: UnixSocketAddress;
  readonly #raw: RawUnixDatagramSocket;
  /** Receivers waiting, and datagrams whose receive was aborted before they came. */
  readonly #queue = new DatagramQueue<RawUnixDatagram>(QUEUE_SIZE);
  readonly #driver: Driver;
  readonly #checkSend: UnixAccessCheck | undefined;
  readonly #allowed = new Set<string>();
  readonly #label: string;
  #remote: UnixSocketAddress | undefined;
  #closed = false;
  #pulling = false;

  /**
   * Wraps a driver's socket. Internal: use `unix.bindDatagram`.
   *
   * @param raw The driver's socket; its `close()` also removes the socket file.
   * @param driver The driver, for checking destination paths.
   * @param checkSend The policy's check for destinations, if any.
   */
  constructor(
    raw: RawUnixDatagramSocket,
    driver: Driver,
    checkSend: UnixAccessCheck | undefined,
  ) {
    this.#raw = raw;
    this.#driver = driver;
    this.#checkSend = checkSend;
    this.localAddress = raw.localAddress;
    this.#label = `unix ${formatUnixPath(raw.localAddress.path)}`;
  }

  /** The peer set by {@linkcode UnixDatagramSocket.connect}, if any. */
  get remoteAddress(): UnixSocketAddress | undefined {
    return this.#remote;
  }

  /**
   * Sends one datagram. While the receiver's kernel queue is full this waits (Unix
   * datagrams are not dropped on the way). On Deno, `not-supported` while a `receive`
   * waits on this socket.
   *
   * @param data The payload (too large for the kernel: `datagram-too-large`).
   * @param to The destination socket's path, or `{ path }`; omitted when connected.
   * @returns The number of bytes sent.
   */
  async send(data: Uint8Array, to?: UnixDatagramTarget): Promise<number> {
    const operation = "unix.send";
    if (this.#closed) throw this.#error("invalid-state", operation, "socket is closed");
    if (!(data instanceof Uint8Array)) throw this.#error("invalid-argument", operation, "data must be a Uint8Array");
    let target: string;
    if (to === undefined) {
      if (this.#remote === undefined) throw this.#error("invalid-argument", operation, "not connected: give a destination");
      target = this.#remote.path;
    } else {
      target = this.#checkTarget(to, operation);
      if (this.#remote !== undefined && !samePeer(this.#remote.path, target)) {
        throw this.#error("invalid-argument", operation, `connected to ${formatUnixPath(this.#remote.path)}, not ${formatUnixPath(target)}`);
      }
    }
    await this.#raw.send(data, target);
    return data.length;
  }

  /**
   * The next datagram (from the connected peer only, once connected).
   *
   * @param options `signal` to stop waiting; it rejects with `signal.reason`.
   * @returns The datagram and who sent it.
   */
  async receive(options?: { signal?: AbortSignal }): Promise<UnixDatagram> {
    const signal = checkSignal(options?.signal, "unix.receive");
    if (this.#closed) throw this.#error("invalid-state", "unix.receive", "socket is closed");
    const taking = this.#queue.take(signal);
    this.#pull();
    const datagram = await taking;
    return { data: datagram.data, remoteAddress: { path: datagram.path } };
  }

  /**
   * Reads the next datagram from the driver while anyone waits for one. An aborted
   * receive cannot stop a read under way: what it brings waits for the next `receive`.
   */
  #pull(): void {
    if (this.#pulling || this.#closed || this.#queue.waiting === 0) return;
    this.#pulling = true;
    this.#raw.receive().then(
      (datagram) => {
        this.#pulling = false;
        if (this.#closed) return;
        // Once connected, only the peer's datagrams count.
        if (this.#remote === undefined || samePeer(this.#remote.path, datagram.path)) this.#queue.push(datagram);
        this.#pull();
      },
      (error: unknown) => {
        this.#pulling = false;
        if (this.#closed) return;
        this.#queue.fail(error instanceof SocketError ? error : this.#error("unknown", "unix.receive", String(error)));
        this.close();
      },
    );
  }

  /**
   * Sets a default destination and receives only from it. The filter compares the
   * sender's reported path, resolved against the current directory.
   *
   * @param remote The peer's path, or `{ path }`.
   */
  connect(remote: UnixDatagramTarget): void {
    if (this.#closed) throw this.#error("invalid-state", "unix.connect", "socket is closed");
    this.#remote = { path: this.#checkTarget(remote, "unix.connect") };
  }

  /** Forgets the connected peer: `send` needs `to` again, and any sender is received. */
  disconnect(): void {
    if (this.#closed) throw this.#error("invalid-state", "unix.disconnect", "socket is closed");
    this.#remote = undefined;
  }

  /**
   * Closes the socket and removes its socket file; a pending `receive` rejects with
   * `invalid-state`. Closing twice is harmless.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.fail(() => this.#error("invalid-state", "unix.receive", "socket is closed"));
    this.#raw.close();
  }

  /** Yields received datagrams until the socket is closed. */
  [Symbol.asyncIterator](): AsyncIterator<UnixDatagram> {
    return untilClosed(() => this.receive(), () => this.#closed);
  }

  /** Closes the socket: `await using socket = await unix.bindDatagram(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  /** Checks a destination and asks the policy about it (once per destination). */
  #checkTarget(to: UnixDatagramTarget, operation: string): string {
    const value = typeof to === "object" && to !== null ? to.path : to;
    if (typeof value !== "string") {
      throw this.#error("invalid-argument", operation, `expected a path or { path }, got ${describeValue(to)}`);
    }
    const checked = checkUnixPath(value, operation, this.#driver);
    if (this.#checkSend !== undefined && !this.#allowed.has(checked.policyPath)) {
      this.#checkSend(checked.policyPath);
      this.#allowed.add(checked.policyPath);
    }
    return checked.path;
  }

  #error(code: SocketError["code"], operation: string, detail: string): SocketError {
    return socketError(code, operation, this.#label, detail);
  }
}
