/**
 * The portable `Connection`: one class over every driver's raw connection. It checks
 * state and arguments, keeps writes in order, and adds web streams and disposal.
 *
 * @module
 */
import type { IpSocketAddress, UnixSocketAddress } from "./address.ts";
import type { Driver, RawConnection } from "./driver.ts";
import { socketError } from "./errors.ts";
import type { SocketError } from "./errors.ts";
import { checkTlsClient, checkTlsServer } from "./tls.ts";
import type { TlsClientOptions, TlsInfo, TlsServerOptions } from "./tls.ts";

/**
 * Options of {@linkcode Connection.read}.
 *
 * @example Using `ReadOptions`
 * ```ts
 * import type { ReadOptions } from "./connection.ts";
 * const options: ReadOptions = { signal: AbortSignal.timeout(1000) };
 * console.log(options.signal !== undefined);
 * ```
 */
export interface ReadOptions {
  /**
   * Aborts the read: it rejects with `signal.reason`, and the connection is closed,
   * because bytes already in flight could not be given back.
   */
  signal?: AbortSignal;
}

const STREAM_CHUNK = 64 * 1024;

/**
 * What a connection needs for {@linkcode Connection.startTls}: the driver that runs TLS,
 * and which side this connection is. Internal: `connect` and `accept` make it.
 *
 * @example The client side of a connection to `localhost`
 * ```ts ignore
 * const upgrade: TlsUpgrade = { driver, side: "client", hostname: "localhost" };
 * ```
 */
export interface TlsUpgrade {
  /** The driver whose `startTls` runs the handshake. */
  driver: Pick<Driver, "startTls" | "checkTlsKeys">;
  /** `client` for a connection made by `connect`, `server` for one from `accept`. */
  side: "client" | "server";
  /** The name or IP connected to (the default `serverName`); undefined on a Unix socket. */
  hostname?: string;
}

/**
 * Options of {@linkcode Connection.startTls} besides the TLS options.
 *
 * @example A handshake that may take 5 seconds
 * ```ts
 * import type { StartTlsInit } from "./connection.ts";
 * const init: StartTlsInit = { signal: AbortSignal.timeout(5000) };
 * console.log(init.signal !== undefined);
 * ```
 */
export interface StartTlsInit {
  /** Aborts the handshake: the connection is closed and `startTls` rejects with `signal.reason`. */
  signal?: AbortSignal;
}

let nextChunkOf: (connection: Connection) => Promise<Uint8Array | null>;

/**
 * The next chunk of `connection`, as its `readable` would give it (the driver's own buffer
 * where it has one; null at end of stream), without a stream in between. Internal: for
 * streams built on a connection (the Sockets API's `readable`).
 */
export function readConnectionChunk(connection: Connection): Promise<Uint8Array | null> {
  return nextChunkOf(connection);
}

/**
 * A connected byte stream (TCP or Unix domain), the same on every runtime.
 *
 * @example Echo one message
 * ```ts ignore
 * import { tcp } from "../mod.ts";
 * await using conn = await tcp.connect({ hostname: "127.0.0.1", port: 7 });
 * await conn.write(new TextEncoder().encode("hello"));
 * const buffer = new Uint8Array(5);
 * console.log(await conn.read(buffer));
 * ```
 */
export class Connection<A extends IpSocketAddress | UnixSocketAddress = IpSocketAddress | UnixSocketAddress> {
  /** The local end. */
  readonly localAddress: A;
  /** The peer. */
  readonly remoteAddress: A;
  readonly #raw: RawConnection<A>;
  readonly #label: string;
  readonly #upgrade: TlsUpgrade | undefined;
  #closed = false;
  /** Set once `startTls` has taken the socket over: why this object can do nothing more. */
  #spent: string | undefined;
  #writeClosed = false;
  #writeTail: Promise<void | undefined> | undefined;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  /**
   * Wraps a driver's connection. Internal: use `tcp.connect`, `unix.connect` or `listener.accept()`.
   *
   * @param raw The driver's connection.
   * @param label The protocol and peer for messages, such as `tcp 127.0.0.1:80` or `unix /run/app.sock`.
   * @param upgrade What `startTls` needs; without it `startTls` is `not-supported`.
   */
  constructor(raw: RawConnection<A>, label: string, upgrade?: TlsUpgrade) {
    this.#raw = raw;
    this.#label = label;
    this.#upgrade = upgrade;
    this.localAddress = raw.localAddress;
    this.remoteAddress = raw.remoteAddress;
  }

  /**
   * Resolves once the connection is closed, by {@linkcode Connection.close} or by the peer
   * resetting it. Never rejects.
   */
  get closed(): Promise<void> {
    return this.#raw.closed;
  }

  /**
   * Reads into `buffer`.
   *
   * @param buffer Where the bytes go.
   * @param options `signal` to abort the read (which closes the connection).
   * @returns How many bytes were read, or null at end of stream.
   */
  read(buffer: Uint8Array, options?: ReadOptions): Promise<number | null> {
    if (!(buffer instanceof Uint8Array)) {
      return Promise.reject(this.#error("invalid-argument", "read", "buffer must be a Uint8Array"));
    }
    if (this.#closed) return Promise.reject(this.#error("invalid-state", "read", this.#spent ?? "connection is closed"));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    // The driver refuses a second read while one is pending (invalid-state); the result
    // is passed on as it is: no promise of ours on the hot path.
    const done = this.#raw.read(buffer);
    if (signal === undefined) return done;
    return this.#abortable(done, signal);
  }

  #abortable(done: Promise<number | null>, signal: AbortSignal): Promise<number | null> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        reject(signal.reason);
        this.close();
      };
      signal.addEventListener("abort", onAbort, { once: true });
      done.then(
        (count) => {
          signal.removeEventListener("abort", onAbort);
          resolve(count);
        },
        (error) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      );
    });
  }

  /**
   * Writes all of `bytes`. Writes keep their order even when not awaited; the buffer may
   * be reused once the promise resolves.
   *
   * @param bytes What to send.
   * @returns The number of bytes written: all of them.
   */
  write(bytes: Uint8Array): Promise<number> {
    if (!(bytes instanceof Uint8Array)) {
      return Promise.reject(this.#error("invalid-argument", "write", "bytes must be a Uint8Array"));
    }
    if (this.#closed) return Promise.reject(this.#error("invalid-state", "write", this.#spent ?? "connection is closed"));
    if (this.#writeClosed) {
      return Promise.reject(this.#error("invalid-state", "write", "writing was closed by closeWrite()"));
    }
    const length = bytes.length;
    if (length === 0) return Promise.resolve(0);
    const tail = this.#writeTail;
    let written: Promise<void | undefined>;
    if (tail === undefined) {
      const pending = this.#raw.write(bytes);
      // The runtime took every byte at once: nothing to wait for, nothing to order after.
      if (pending === undefined) return Promise.resolve(length);
      written = pending;
    } else {
      written = tail.then(() => this.#raw.write(bytes), () => this.#raw.write(bytes));
    }
    this.#writeTail = written;
    return written.then(
      () => {
        if (this.#writeTail === written) this.#writeTail = undefined;
        return length;
      },
      (error: unknown) => {
        if (this.#writeTail === written) this.#writeTail = undefined;
        throw error;
      },
    );
  }

  /** Half-closes: sends FIN after queued writes; reading goes on (`shutdown(SHUT_WR)`). */
  async closeWrite(): Promise<void> {
    if (this.#closed) throw this.#error("invalid-state", "closeWrite", this.#spent ?? "connection is closed");
    if (this.#writeClosed) return;
    this.#writeClosed = true;
    const tail = this.#writeTail;
    if (tail !== undefined) await tail.catch(() => {});
    await this.#raw.closeWrite();
  }

  /**
   * The TLS session: protocol, cipher, ALPN, server name and the verified certificate of
   * the other side. Undefined on a plaintext connection.
   */
  get tls(): TlsInfo | undefined {
    return this.#raw.tls;
  }

  /**
   * Upgrades this plaintext connection to TLS in place (STARTTLS), and resolves with the
   * encrypted connection once the handshake is done and the peer verified. On a connection
   * made by `connect` this is the client side (`TlsClientOptions`; `serverName` defaults to
   * the name connected to); on one from `accept`, the server side (`TlsServerOptions`).
   * Bytes received and not yet read are TLS's first bytes. This object is spent from the
   * call on: its `read` and `write` are `invalid-state`. A second call, a call on a TLS
   * connection or during a read is `invalid-state`.
   *
   * @param options The TLS options of this side.
   * @param init `signal` to abort the handshake (the connection is then closed).
   * @returns The encrypted connection.
   */
  async startTls(options?: TlsClientOptions | TlsServerOptions, init?: StartTlsInit): Promise<Connection<A>> {
    const operation = "startTls";
    if (this.#spent !== undefined) throw this.#error("invalid-state", operation, this.#spent);
    if (this.#closed) throw this.#error("invalid-state", operation, "connection is closed");
    if (this.#raw.tls !== undefined) throw this.#error("invalid-state", operation, "the connection already speaks TLS");
    const upgrade = this.#upgrade;
    if (upgrade === undefined) throw this.#error("not-supported", operation, "this connection cannot start TLS");
    if (this.#raw.reading()) throw this.#error("invalid-state", operation, "a read is pending; startTls must wait for it");
    const checked = upgrade.side === "client"
      ? { ...checkTlsClient(options, upgrade.hostname, operation), operation }
      : { ...checkTlsServer(options, operation), operation };
    upgrade.driver.checkTlsKeys(checked, operation);
    const signal = init?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw this.#error("invalid-argument", operation, "signal must be an AbortSignal");
    }
    this.#spent = "the connection was handed to TLS by startTls(); use the connection it returned";
    this.#closed = true;
    this.#writeClosed = true;
    const tail = this.#writeTail;
    if (tail !== undefined) await tail.catch(() => {});
    const secure = await upgrade.driver.startTls(this.#raw, checked, signal);
    return new Connection(secure, this.#label, upgrade);
  }

  /** Closes both directions at once and releases the socket. Closing twice is harmless. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writeClosed = true;
    this.#raw.close();
  }

  /**
   * Turns Nagle's algorithm off (`true`) or on. TCP only: `not-supported` on a Unix socket.
   *
   * @param on Whether to send small writes at once.
   */
  setNoDelay(on: boolean): void {
    this.#checkOpen("setNoDelay");
    this.#checkTcp("setNoDelay");
    this.#raw.setNoDelay(on !== false);
  }

  /**
   * Turns TCP keep-alive on or off. TCP only: `not-supported` on a Unix socket.
   *
   * @param on Whether to probe an idle peer.
   * @param delayMs Idle time before the first probe, where the runtime can set it.
   */
  setKeepAlive(on: boolean, delayMs?: number): void {
    this.#checkOpen("setKeepAlive");
    this.#checkTcp("setKeepAlive");
    if (delayMs !== undefined && (typeof delayMs !== "number" || !(delayMs >= 0))) {
      throw this.#error("invalid-argument", "setKeepAlive", "delayMs must be a number >= 0");
    }
    this.#raw.setKeepAlive(on !== false, delayMs);
  }

  /**
   * The bytes received, as a web stream. Use either this or `read`, not both. On Node
   * and Bun the chunks are the runtime's own receive buffers, handed on without a copy.
   */
  get readable(): ReadableStream<Uint8Array> {
    this.#readable ??= new ReadableStream<Uint8Array>({
      // Not an async function: one promise per chunk fewer (the chunk's own, then this).
      pull: (controller) =>
        this.#nextChunk().then((chunk) => {
          if (chunk === null) controller.close();
          else controller.enqueue(chunk);
        }),
      cancel: () => this.close(),
    }, { highWaterMark: 0 });
    return this.#readable;
  }

  /** A web stream that writes to the connection; closing it half-closes. */
  get writable(): WritableStream<Uint8Array> {
    this.#writable ??= new WritableStream<Uint8Array>({
      write: async (chunk) => {
        await this.write(chunk);
      },
      close: () => this.closeWrite(),
      abort: () => this.close(),
    });
    return this.#writable;
  }

  /** Closes the connection: `await using conn = await tcp.connect(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  static {
    nextChunkOf = (connection) => connection.#nextChunk();
  }

  /**
   * The next chunk for `readable`: the driver's own buffer where it can give one (its
   * promise passed on as it is: no promise of ours on that path).
   */
  #nextChunk(): Promise<Uint8Array | null> {
    const raw = this.#raw;
    if (raw.readChunk === undefined) {
      const chunk = new Uint8Array(STREAM_CHUNK);
      return this.read(chunk).then((count) => (count === null ? null : chunk.subarray(0, count)));
    }
    if (this.#closed) return Promise.reject(this.#error("invalid-state", "read", this.#spent ?? "connection is closed"));
    return raw.readChunk();
  }

  #checkOpen(operation: string): void {
    if (this.#closed) throw this.#error("invalid-state", operation, this.#spent ?? "connection is closed");
  }

  /** Nagle's algorithm and keep-alive are TCP's; a Unix socket has neither. */
  #checkTcp(operation: string): void {
    if ("path" in this.localAddress) throw this.#error("not-supported", operation, "Unix sockets have no such option");
  }

  #error(code: SocketError["code"], operation: string, detail: string): SocketError {
    return socketError(code, operation, this.#label, detail);
  }
}
