/**
 * The portable `Connection`: one class over every driver's raw connection. It checks
 * state and arguments, keeps writes in order, and adds web streams and disposal.
 *
 * @module
 */
import type { IpSocketAddress, UnixSocketAddress } from "./address.ts";
import type { RawConnection } from "./driver.ts";
import { SocketError, socketError } from "./errors.ts";

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
  #closed = false;
  #writeClosed = false;
  #writeTail: Promise<void | undefined> | undefined;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  /**
   * Wraps a driver's connection. Internal: use `tcp.connect`, `unix.connect` or `listener.accept()`.
   *
   * @param raw The driver's connection.
   * @param label The protocol and peer for messages, such as `tcp 127.0.0.1:80` or `unix /run/app.sock`.
   */
  constructor(raw: RawConnection<A>, label: string) {
    this.#raw = raw;
    this.#label = label;
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
    if (this.#closed) return Promise.reject(this.#error("invalid-state", "read", "connection is closed"));
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
    if (this.#closed) return Promise.reject(this.#error("invalid-state", "write", "connection is closed"));
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
    if (this.#closed) throw this.#error("invalid-state", "closeWrite", "connection is closed");
    if (this.#writeClosed) return;
    this.#writeClosed = true;
    const tail = this.#writeTail;
    if (tail !== undefined) await tail.catch(() => {});
    await this.#raw.closeWrite();
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
      pull: async (controller) => {
        const chunk = await this.#nextChunk();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
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

  /** The next chunk for `readable`: the driver's own buffer where it can give one. */
  async #nextChunk(): Promise<Uint8Array | null> {
    const raw = this.#raw;
    if (raw.readChunk === undefined) {
      const chunk = new Uint8Array(STREAM_CHUNK);
      const count = await this.read(chunk);
      return count === null ? null : chunk.subarray(0, count);
    }
    if (this.#closed) throw this.#error("invalid-state", "read", "connection is closed");
    return raw.readChunk();
  }

  #checkOpen(operation: string): void {
    if (this.#closed) throw this.#error("invalid-state", operation, "connection is closed");
  }

  /** Nagle's algorithm and keep-alive are TCP's; a Unix socket has neither. */
  #checkTcp(operation: string): void {
    if ("path" in this.localAddress) throw this.#error("not-supported", operation, "Unix sockets have no such option");
  }

  #error(code: SocketError["code"], operation: string, detail: string): SocketError {
    return socketError(code, operation, this.#label, detail);
  }
}
