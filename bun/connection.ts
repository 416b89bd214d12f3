/**
 * `BunConnection`: a driver connection over a Bun socket, TCP or Unix, with the socket
 * handlers Bun calls, and the connect and accept plumbing both protocols share.
 *
 * @module
 */
import type { IpSocketAddress, UnixSocketAddress } from "../core/address.ts";
import type { AcceptQueue } from "../core/accept_queue.ts";
import { ChunkReader } from "../core/chunk_reader.ts";
import type { RawConnection } from "../core/driver.ts";
import type { TlsInfo } from "../core/tls.ts";
import { endsTarget } from "../core/ends.ts";
import type { ConnectionEnds, StreamProtocol } from "../core/ends.ts";
import { socketError } from "../core/errors.ts";
import type { SocketError } from "../core/errors.ts";
import type { BunSocket, BunSocketHandler } from "./bun_api.ts";
import { bunError } from "./errors.ts";
import { tlsErrorCode } from "../node/tls_errors.ts";

type Address = IpSocketAddress | UnixSocketAddress;

interface PendingWrite {
  rest: Uint8Array;
  resolve: () => void;
  reject: (error: SocketError) => void;
}

/** A Bun socket of either protocol, as the shared handlers see it. */
export type AnyBunSocket = BunSocket<BunConnection<Address>>;

/** One Bun socket's state (TCP or Unix); Bun calls the shared handlers below with it as `socket.data`. */
export class BunConnection<A extends Address> implements RawConnection<A> {
  readonly localAddress: A;
  readonly remoteAddress: A;
  readonly closed: Promise<void>;
  readonly reader: ChunkReader;
  readonly #socket: AnyBunSocket;
  readonly #protocol: StreamProtocol;
  readonly #target: string;
  #pending: PendingWrite | undefined;
  #failure: SocketError | undefined;
  #gone = false;
  #closedByUs = false;
  /** Set by `handOver`: the socket is TLS's now, and what this one still hears is ciphertext. */
  #handedOver = false;
  #tls: TlsInfo | undefined;
  #markClosed: () => void = () => {};

  /**
   * @param socket The open socket.
   * @param ends The protocol and both addresses (Bun reports none for Unix sockets).
   */
  constructor(socket: AnyBunSocket, ends: ConnectionEnds<A>) {
    this.#socket = socket;
    this.localAddress = ends.localAddress;
    this.remoteAddress = ends.remoteAddress;
    this.#protocol = ends.protocol;
    this.#target = endsTarget(ends);
    this.reader = new ChunkReader({ pause: () => socket.pause(), resume: () => socket.resume() });
    this.closed = new Promise((resolve) => (this.#markClosed = resolve));
  }

  /** The session, once `secured`; undefined on plaintext. */
  get tls(): TlsInfo | undefined {
    return this.#tls;
  }

  /** The TLS handshake over this (TLS) socket is done: `tls` reports `info` from now on. */
  secured(info: TlsInfo): void {
    this.#tls = info;
  }

  /**
   * Gives the socket to TLS (`upgradeTLS`): the bytes received and not read, which TLS must
   * get first. From now on this object ignores the socket's data and end (ciphertext, which
   * Bun still reports here); its close only settles `closed`.
   */
  handOver(): { socket: AnyBunSocket; buffered: Uint8Array[] } {
    this.#handedOver = true;
    return { socket: this.#socket, buffered: this.reader.drain() };
  }

  /** The socket's data, as Bun hands it over. */
  onData(data: Uint8Array): void {
    if (!this.#handedOver) this.reader.push(data, true);
  }

  /** The peer ended its side. */
  onEnd(): void {
    if (!this.#handedOver) this.reader.end();
  }

  read(buffer: Uint8Array): Promise<number | null> {
    return this.reader.read(buffer, this.#busy);
  }

  readChunk(): Promise<Uint8Array | null> {
    return this.reader.take(this.#busy);
  }

  reading(): boolean {
    return this.reader.reading;
  }

  readonly #busy = (): SocketError =>
    socketError("invalid-state", this.#operation("read"), this.#target, "another read is pending");

  write(bytes: Uint8Array): Promise<void> | undefined {
    if (this.#failure !== undefined) return Promise.reject(this.#writeError());
    if (this.#gone) return Promise.reject(socketError("invalid-state", this.#operation("write"), this.#target, "connection is closed"));
    const written = this.#socket.write(bytes);
    if (written === bytes.length) return undefined;
    return new Promise((resolve, reject) => {
      this.#pending = { rest: bytes.subarray(Math.max(written, 0)), resolve, reject };
    });
  }

  /** Bun says the socket can take more: write what is left. */
  onDrain(): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    const written = this.#socket.write(pending.rest);
    if (written === pending.rest.length) {
      this.#pending = undefined;
      pending.resolve();
    } else if (written > 0) {
      pending.rest = pending.rest.subarray(written);
    }
  }

  closeWrite(): Promise<void> {
    if (!this.#gone) this.#socket.shutdown();
    return Promise.resolve();
  }

  close(): void {
    if (this.#gone || this.#handedOver) return;
    this.#closedByUs = true;
    this.reader.end();
    this.#socket.end();
    this.onClose(undefined);
  }

  /** The socket is gone: by us, the peer, or an error. */
  onClose(error: Error | undefined): void {
    if (this.#handedOver) {
      this.#gone = true;
      this.#markClosed();
      return;
    }
    if (error !== undefined) this.onError(error);
    if (this.#gone) return;
    this.#gone = true;
    this.reader.end();
    const pending = this.#pending;
    this.#pending = undefined;
    // Closed by us: the write is cut short on purpose. Otherwise the kernel dropped the
    // connection under a write Bun was holding (Bun reports no error then): the peer is gone.
    pending?.reject(
      this.#failure !== undefined
        ? this.#writeError()
        : this.#closedByUs
        ? socketError("invalid-state", this.#operation("write"), this.#target, "connection closed before the write finished")
        : socketError("connection-reset", this.#operation("write"), this.#target, "the peer went away before the write finished"),
    );
    this.#markClosed();
  }

  onError(error: Error): void {
    if (this.#failure !== undefined || this.#handedOver) return;
    // Over TLS, what the TLS library reports (a broken record, an alert) gets a TLS code, as on the node:tls path.
    const code = this.#tls === undefined ? undefined : tlsErrorCode((error as { code?: string }).code);
    this.#failure = code === undefined
      ? bunError(error, this.#operation("read"), this.#target)
      : socketError(code, this.#operation("read"), this.#target, error.message, error);
    this.reader.fail(this.#failure);
  }

  setNoDelay(on: boolean): void {
    this.#socket.setNoDelay(on);
  }

  setKeepAlive(on: boolean, delayMs?: number): void {
    this.#socket.setKeepAlive(on, delayMs ?? 0);
  }

  #writeError(): SocketError {
    const failure = this.#failure as SocketError;
    return socketError(failure.code, this.#operation("write"), this.#target, undefined, failure.cause);
  }

  #operation(name: string): string {
    return `${this.#protocol}.${name}`;
  }
}

/** Handlers shared by every socket, TLS ones too; the state lives in `socket.data`. */
export const HANDLERS: BunSocketHandler<BunConnection<Address>> = {
  // Plain Uint8Arrays (the type every runtime gives), not Buffers: no view to make per chunk.
  binaryType: "uint8array",
  data: (socket, data) => socket.data.onData(data),
  drain: (socket) => socket.data.onDrain(),
  end: (socket) => socket.data.onEnd(),
  error: (socket, error) => socket.data?.onError(error),
  close: (socket, error) => socket.data?.onClose(error),
};

/**
 * Opens a socket with `dial` (a `Bun.connect` call given the handlers) and waits for it,
 * honouring `signal`: an abort rejects with `signal.reason` and a late socket is closed.
 *
 * @param ends The ends of the open socket.
 */
export async function bunConnect<A extends Address>(
  dial: (handlers: BunSocketHandler<BunConnection<Address>>) => Promise<AnyBunSocket>,
  ends: (socket: AnyBunSocket) => ConnectionEnds<A>,
  signal: AbortSignal | undefined,
  operation: string,
  target: string,
): Promise<BunConnection<A>> {
  if (signal?.aborted) throw signal.reason;
  let connection: BunConnection<A> | undefined;
  const open = (socket: AnyBunSocket): void => {
    connection = new BunConnection(socket, ends(socket));
    socket.data = connection;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      dial({ ...HANDLERS, open }).then((socket) => {
        signal?.removeEventListener("abort", onAbort);
        if (signal?.aborted) socket.terminate();
        else resolve();
      }, (error: unknown) => {
        signal?.removeEventListener("abort", onAbort);
        reject(error);
      });
    });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw bunError(error, operation, target);
  }
  return connection as BunConnection<A>;
}

/** Handlers for `Bun.listen`: each accepted socket goes to `queue`. */
export function acceptHandlers<A extends Address>(
  queue: AcceptQueue<RawConnection<A>>,
  ends: (socket: AnyBunSocket) => ConnectionEnds<A>,
): BunSocketHandler<BunConnection<Address>> {
  return {
    ...HANDLERS,
    open: (socket) => {
      const connection = new BunConnection(socket, ends(socket));
      socket.data = connection;
      queue.push(connection);
    },
  };
}
