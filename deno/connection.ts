/**
 * `DenoConnection`: a driver connection over a `Deno.TcpConn` or `Deno.UnixConn`, and
 * the driver listener over a `Deno.TcpListener` or `Deno.UnixListener`.
 *
 * @module
 */
import { describeSocketAddress } from "../core/address.ts";
import type { IpSocketAddress, UnixSocketAddress } from "../core/address.ts";
import type { RawConnection, RawListener } from "../core/driver.ts";
import { errnoOf } from "../core/errno.ts";
import { endsTarget } from "../core/ends.ts";
import type { ConnectionEnds, StreamProtocol } from "../core/ends.ts";
import { socketError } from "../core/errors.ts";
import type { SocketError } from "../core/errors.ts";
import type { DenoTcpConn, DenoUnixConn } from "./deno_api.ts";
import { denoError } from "./errors.ts";

type Address = IpSocketAddress | UnixSocketAddress;

/** A Deno stream connection: TCP (which has socket options) or Unix. */
export type DenoStreamConn = DenoTcpConn | DenoUnixConn;

/** A `Deno.TcpConn` or `Deno.UnixConn` as a driver connection. */
export class DenoConnection<A extends Address> implements RawConnection<A> {
  readonly localAddress: A;
  readonly remoteAddress: A;
  readonly closed: Promise<void>;
  readonly #conn: DenoStreamConn;
  readonly #protocol: StreamProtocol;
  readonly #target: string;
  #isClosed = false;
  #reading = false;
  #markClosed: () => void = () => {};

  /**
   * @param conn The connected Deno connection.
   * @param ends The protocol and both addresses.
   */
  constructor(conn: DenoStreamConn, ends: ConnectionEnds<A>) {
    this.#conn = conn;
    this.localAddress = ends.localAddress;
    this.remoteAddress = ends.remoteAddress;
    this.#protocol = ends.protocol;
    this.#target = endsTarget(ends);
    this.closed = new Promise((resolve) => (this.#markClosed = resolve));
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (this.#reading) {
      return Promise.reject(socketError("invalid-state", `${this.#protocol}.read`, this.#target, "another read is pending"));
    }
    this.#reading = true;
    return this.#conn.read(buffer).then(this.#readDone, this.#readFailed);
  }

  reading(): boolean {
    return this.#reading;
  }

  // Made once, not per read: reads are the hot path.
  readonly #readDone = (count: number | null): number | null => {
    this.#reading = false;
    return count;
  };
  readonly #readFailed = (error: unknown): null => {
    this.#reading = false;
    if (this.#isClosed) return null;
    throw this.#fail(error, `${this.#protocol}.read`);
  };

  async write(bytes: Uint8Array): Promise<void> {
    try {
      let offset = await this.#conn.write(bytes);
      while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
    } catch (error) {
      const operation = `${this.#protocol}.write`;
      if (this.#isClosed) throw socketError("invalid-state", operation, this.#target, "connection is closed");
      throw this.#fail(error, operation);
    }
  }

  async closeWrite(): Promise<void> {
    try {
      await this.#conn.closeWrite();
    } catch (error) {
      throw this.#fail(error, `${this.#protocol}.closeWrite`);
    }
  }

  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    try {
      this.#conn.close();
    } catch {
      // Already released by the runtime after a failure.
    }
    this.#markClosed();
  }

  setNoDelay(on: boolean): void {
    this.#tcp("setNoDelay").setNoDelay(on);
  }

  setKeepAlive(on: boolean, delayMs?: number): void {
    const conn = this.#tcp("setKeepAlive");
    if (delayMs !== undefined) {
      throw socketError("not-supported", "setKeepAlive", this.#target, "Deno cannot set the keep-alive delay");
    }
    conn.setKeepAlive(on);
  }

  #tcp(operation: string): DenoTcpConn {
    if (!("setNoDelay" in this.#conn)) throw socketError("not-supported", operation, this.#target, "not a TCP connection");
    return this.#conn;
  }

  #fail(error: unknown, operation: string): SocketError {
    const failure = denoError(error, operation, this.#target);
    if (failure.code === "connection-reset" || failure.code === "connection-aborted") this.close();
    return failure;
  }
}

/** What `denoListener` needs of a `Deno.TcpListener` or `Deno.UnixListener`. */
export interface DenoAcceptor<C extends DenoStreamConn> {
  accept(): Promise<C>;
  close(): void;
}

/**
 * A Deno listener as a driver listener.
 *
 * @param ends The ends of an accepted connection.
 */
export function denoListener<A extends Address, C extends DenoStreamConn>(
  listener: DenoAcceptor<C>,
  protocol: StreamProtocol,
  localAddress: A,
  ends: (conn: C) => ConnectionEnds<A>,
): RawListener<A> {
  const label = `${protocol} ${describeSocketAddress(localAddress)}`;
  let closed = false;
  /** Accepts waiting to try again; closing wakes them. */
  const sleepers = new Set<() => void>();
  return {
    localAddress,
    async accept(): Promise<RawConnection<A>> {
      // With no file descriptor left, Deno's accept fails and the connection waits in the
      // kernel's queue; Node (libuv) and Bun keep listening, so the listener waits and tries
      // again (5 ms, doubling up to 1 s) instead of failing.
      for (let delayMs = 5;; delayMs = Math.min(delayMs * 2, MAX_ACCEPT_BACKOFF_MS)) {
        if (closed) throw socketError("invalid-state", "accept", label, "listener is closed");
        try {
          const conn = await listener.accept();
          return new DenoConnection(conn, ends(conn));
        } catch (error) {
          if (closed) throw socketError("invalid-state", "accept", label, "listener is closed");
          const errno = errnoOf(error);
          if (errno !== "EMFILE" && errno !== "ENFILE") throw denoError(error, "accept", label);
        }
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            clearTimeout(timer);
            sleepers.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, delayMs);
          sleepers.add(wake);
        });
      }
    },
    close() {
      if (closed) return;
      closed = true;
      listener.close();
      for (const wake of [...sleepers]) wake();
    },
  };
}

/** The longest wait between accepts while no file descriptor is left. */
const MAX_ACCEPT_BACKOFF_MS = 1000;
