/**
 * `NodeConnection`: a driver connection over a `net.Socket`, TCP or Unix, and the
 * mapping of Node's errors.
 *
 * @module
 */
import type net from "node:net";
import type { IpSocketAddress, UnixSocketAddress } from "../core/address.ts";
import { ChunkReader } from "../core/chunk_reader.ts";
import type { FlowControl } from "../core/chunk_reader.ts";
import type { RawConnection } from "../core/driver.ts";
import { endsTarget } from "../core/ends.ts";
import type { ConnectionEnds, StreamProtocol } from "../core/ends.ts";
import { codeFromErrno, errnoOf } from "../core/errno.ts";
import { SocketError, socketError } from "../core/errors.ts";
import type { TlsInfo } from "../core/tls.ts";
import { tlsErrorCode } from "./tls_errors.ts";

/** Maps a Node error to a SocketError for `operation` on `target`. */
export function nodeError(error: unknown, operation: string, target: string): SocketError {
  if (error instanceof SocketError) return error;
  const errno = errnoOf(error);
  const message = error instanceof Error ? error.message : String(error);
  return socketError(tlsErrorCode(errno) ?? codeFromErrno(errno), operation, target, message, error);
}

/** A connected `net.Socket` (TCP or Unix) as a driver connection. */
export class NodeConnection<A extends IpSocketAddress | UnixSocketAddress> implements RawConnection<A> {
  readonly localAddress: A;
  readonly remoteAddress: A;
  readonly closed: Promise<void>;
  readonly tls: TlsInfo | undefined;
  readonly #socket: net.Socket;
  readonly #onData: (chunk: Buffer) => void;
  readonly #onEnd: () => void;
  readonly #onError: (error: Error) => void;
  readonly #reader: ChunkReader;
  readonly #protocol: StreamProtocol;
  readonly #target: string;
  #failure: SocketError | undefined;

  /**
   * @param socket The connected socket (a `tls.TLSSocket` once its handshake is done).
   * @param ends The protocol and both addresses (Node reports none for Unix sockets).
   * @param tls The session, on a TLS socket.
   * @param flow How to hold the bytes back when the reader is full: pausing `socket` unless given.
   */
  constructor(socket: net.Socket, ends: ConnectionEnds<A>, tls?: TlsInfo, flow?: FlowControl) {
    this.#socket = socket;
    this.localAddress = ends.localAddress;
    this.remoteAddress = ends.remoteAddress;
    this.#protocol = ends.protocol;
    this.#target = endsTarget(ends);
    this.tls = tls;
    const reader = new ChunkReader(flow ?? { pause: () => socket.pause(), resume: () => socket.resume() });
    this.#reader = reader;
    this.#onData = (chunk: Buffer) => reader.push(chunk, true);
    this.#onEnd = () => reader.end();
    this.#onError = (error: Error) => {
      const failure = nodeError(error, `${this.#protocol}.read`, this.#target);
      this.#failure ??= failure;
      reader.fail(failure);
    };
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("error", this.#onError);
    this.closed = new Promise((resolve) => {
      socket.once("close", () => {
        reader.end();
        resolve();
      });
    });
  }

  /** The protocol and both ends, for a connection that takes this one's place. */
  get ends(): ConnectionEnds<A> {
    return { protocol: this.#protocol, localAddress: this.localAddress, remoteAddress: this.remoteAddress };
  }

  /**
   * Hands the socket over (to TLS): stops reading from it and gives the bytes received but
   * not yet read back to it, so they are the first the new owner reads. This object is spent.
   */
  detach(): net.Socket {
    const socket = this.#socket;
    socket.pause();
    socket.off("data", this.#onData);
    socket.off("end", this.#onEnd);
    socket.off("error", this.#onError);
    const rest = this.#reader.drain();
    for (let i = rest.length - 1; i >= 0; i--) socket.unshift(rest[i]);
    return socket;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    return this.#reader.read(buffer, this.#busy);
  }

  readChunk(): Promise<Uint8Array | null> {
    return this.#reader.take(this.#busy);
  }

  reading(): boolean {
    return this.#reader.reading;
  }

  readonly #busy = (): SocketError =>
    socketError("invalid-state", `${this.#protocol}.read`, this.#target, "another read is pending");

  write(bytes: Uint8Array): Promise<void> | undefined {
    if (this.#failure !== undefined) {
      const operation = `${this.#protocol}.write`;
      return Promise.reject(socketError(this.#failure.code, operation, this.#target, undefined, this.#failure.cause));
    }
    const socket = this.#socket;
    let settle: ((error: Error | null | undefined) => void) | undefined;
    // Node never calls the callback before write() returns, so `settle` is set in time.
    const flushed = socket.write(bytes, (error) => settle?.(error));
    // Written straight to the kernel (libuv's try-write): Node holds nothing, and a later
    // failure of the socket surfaces on the next operation. The callback is then ignored.
    if (flushed && socket.writableLength === 0 && !socket.destroyed) return undefined;
    return new Promise((resolve, reject) => {
      settle = (error) => {
        if (error === undefined || error === null) {
          resolve();
          return;
        }
        const operation = `${this.#protocol}.write`;
        reject(this.#failure !== undefined
          ? socketError(this.#failure.code, operation, this.#target, undefined, error)
          : nodeError(error, operation, this.#target));
      };
    });
  }

  closeWrite(): Promise<void> {
    const socket = this.#socket;
    // A socket already gone (Bun's node:tls destroys its TLS socket at the peer's
    // close_notify) never calls end's callback: nothing is left to send.
    if (socket.destroyed || socket.writableFinished) return Promise.resolve();
    return new Promise((resolve) => {
      socket.end(() => resolve());
      socket.once("close", () => resolve());
    });
  }

  close(): void {
    this.#reader.end();
    this.#socket.destroy();
  }

  setNoDelay(on: boolean): void {
    this.#socket.setNoDelay(on);
  }

  setKeepAlive(on: boolean, delayMs?: number): void {
    this.#socket.setKeepAlive(on, delayMs ?? 0);
  }
}
