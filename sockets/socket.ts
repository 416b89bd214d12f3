/**
 * `Socket` of the Sockets API (WinterTC, the `connect()` of `cloudflare:sockets`), on a
 * unisock `Connection`: web streams usable before the connection is open, `opened`,
 * `closed`, `close()` that flushes, and STARTTLS by `startTls()`.
 *
 * @module
 */
import type { IpSocketAddress } from "../core/address.ts";
import { readConnectionChunk } from "../core/connection.ts";
import type { Connection } from "../core/connection.ts";
import type { TlsClientOptions } from "../core/tls.ts";
import { formatHostPort } from "./address.ts";
import type { SocketAddress } from "./address.ts";
import { socketsError, toSocketsError } from "./errors.ts";
import type { SocketsApiError } from "./errors.ts";

/**
 * Options of {@linkcode connect}: the Sockets API's, and `ca` (unisock's own).
 *
 * @example A socket that may upgrade to TLS later (as PostgreSQL, SMTP and IMAP do)
 * ```ts
 * import type { SocketOptions } from "./socket.ts";
 * const options: SocketOptions = { secureTransport: "starttls", allowHalfOpen: false };
 * console.log(options.secureTransport);
 * ```
 */
export interface SocketOptions {
  /** `"off"` (default): plaintext; `"on"`: TLS from the start; `"starttls"`: plaintext until `startTls()`. */
  secureTransport?: "off" | "on" | "starttls";
  /** When false (default), the end of the readable closes the writable, and the socket closes. */
  allowHalfOpen?: boolean;
  /** The server name sent in TLS (SNI) and that the certificate must name; default the `hostname`. */
  sni?: string;
  /** ALPN protocols to offer, in order of preference; `opened` tells which one the server chose. */
  alpn?: string[];
  /** unisock's own: PEM issuers to trust for this socket instead of the runtime's trust store. */
  ca?: string | string[];
}

/**
 * Options of {@linkcode Socket.startTls}.
 *
 * @example Upgrade, expecting the certificate of `db.example.com`
 * ```ts
 * import type { StartTlsOptions } from "./socket.ts";
 * const options: StartTlsOptions = { expectedServerHostname: "db.example.com" };
 * console.log(options.expectedServerHostname);
 * ```
 */
export interface StartTlsOptions {
  /** The name the server's certificate must carry (and the SNI); default the name connected to. */
  expectedServerHostname?: string;
  /** The same, under the name `node:tls` gives it (libraries written for both pass this). */
  servername?: string;
}

/**
 * What {@linkcode Socket.opened} resolves with.
 *
 * @example Print where a socket went
 * ```ts ignore
 * const info: SocketInfo = await socket.opened;
 * console.log(info.remoteAddress, info.localAddress, info.alpn);
 * ```
 */
export interface SocketInfo {
  /** The peer, `"203.0.113.7:5432"` (`"[2001:db8::1]:5432"` for IPv6). */
  remoteAddress: string;
  /** The local end, in the same form. */
  localAddress: string;
  /** The ALPN protocol the TLS server chose; null without TLS or without agreement. */
  alpn: string | null;
}

/** What a `Socket` is made from. Internal: `connect()` and `startTls()` fill it. */
export interface SocketSettings {
  /** The address asked for, for messages (`host:port`). */
  target: string;
  /** The parsed address. */
  address: SocketAddress;
  secureTransport: "off" | "on" | "starttls";
  allowHalfOpen: boolean;
  sni: string | undefined;
  alpn: string[] | undefined;
  ca: string | string[] | undefined;
}

/** A chunk the writable takes: the bytes of any `ArrayBufferView`, or of an `ArrayBuffer`. */
export type SocketChunk = ArrayBufferView | ArrayBuffer;

/** The TLS client options `settings` ask for (unset ones left out). */
export function tlsClientOptions(settings: SocketSettings, serverName?: string): TlsClientOptions {
  const options: TlsClientOptions = {};
  const name = serverName ?? settings.sni;
  if (name !== undefined) options.serverName = name;
  if (settings.alpn !== undefined) options.alpn = settings.alpn;
  if (settings.ca !== undefined) options.ca = settings.ca;
  return options;
}

/**
 * A socket of the Sockets API. Made by {@linkcode connect} (or `network.sockets.connect`);
 * its streams may be used at once, before {@linkcode Socket.opened} settles.
 *
 * @example Send a line, read the answer, close
 * ```ts ignore
 * import { connect } from "@unisock/unisock/sockets";
 * const socket = connect("127.0.0.1:7");
 * const writer = socket.writable.getWriter();
 * await writer.write(new TextEncoder().encode("ping\n"));
 * const { value } = await socket.readable.getReader().read();
 * await socket.close();
 * ```
 */
export class Socket {
  readonly #settings: SocketSettings;
  readonly #opening: Promise<Connection<IpSocketAddress>>;
  readonly #opened: Promise<SocketInfo>;
  readonly #closed: Promise<void>;
  #settleClosed!: (error?: SocketsApiError) => void;
  #connection: Connection<IpSocketAddress> | undefined;
  #readController!: ReadableStreamDefaultController<Uint8Array>;
  #writeController!: WritableStreamDefaultController;
  readonly #readable: ReadableStream<Uint8Array>;
  readonly #writable: WritableStream<SocketChunk>;
  #readEnded = false;
  #writeEnded = false;
  #done = false;
  #closing = false;
  #upgraded = false;
  #tlsStarted = false;
  #writesInFlight = 0;
  #lastWrite: Promise<unknown> = Promise.resolve();

  /**
   * Internal: use {@linkcode connect}.
   *
   * @param opening The connection, once open (and, for TLS, handshaken).
   * @param settings The address and options it was made with.
   */
  constructor(opening: Promise<Connection<IpSocketAddress>>, settings: SocketSettings) {
    this.#settings = settings;
    this.#closed = new Promise<void>((resolve, reject) => {
      this.#settleClosed = (error) => (error === undefined ? resolve() : reject(error));
    });
    this.#closed.catch(() => {});
    this.#opening = opening.then(
      (connection) => {
        this.#connection = connection;
        if (this.#done) connection.close();
        return connection;
      },
      (error: unknown) => {
        const failure = toSocketsError(error, "connect", settings.target);
        this.#fail(failure);
        throw failure;
      },
    );
    this.#opening.catch(() => {});
    this.#opened = this.#opening.then((connection) => ({
      remoteAddress: formatHostPort(connection.remoteAddress.address, connection.remoteAddress.port),
      localAddress: formatHostPort(connection.localAddress.address, connection.localAddress.port),
      alpn: connection.tls?.alpn ?? null,
    }));
    this.#opened.catch(() => {});
    this.#readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#readController = controller;
      },
      pull: (controller) => this.#pull(controller),
      cancel: () => {
        this.#readEnded = true;
        this.#finishIfEnded();
      },
    }, { highWaterMark: 0 });
    this.#writable = new WritableStream<SocketChunk>({
      start: (controller) => {
        this.#writeController = controller;
      },
      write: (chunk) => this.#write(chunk),
      close: () => this.#closeWrite(),
      abort: (reason) => {
        this.#shutDown(reason);
      },
    });
  }

  /** The bytes received. Reading may start before `opened` settles. */
  get readable(): ReadableStream<Uint8Array> {
    return this.#readable;
  }

  /** Where to write bytes (any `ArrayBufferView` or `ArrayBuffer`); writes wait for the connection. */
  get writable(): WritableStream<SocketChunk> {
    return this.#writable;
  }

  /** Resolves once connected (and, with TLS, handshaken and verified); rejects if that failed. */
  get opened(): Promise<SocketInfo> {
    return this.#opened;
  }

  /**
   * Resolves once the socket is closed: by `close()`, by both directions ending, or by an
   * upgrade (`startTls`); rejects with the error that ended it (a failed connection too).
   */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** True once `startTls()` took this socket's connection over. */
  get upgraded(): boolean {
    return this.#upgraded;
  }

  /** `"off"`, `"on"` or `"starttls"`, as given to `connect` (`"on"` on a socket from `startTls`). */
  get secureTransport(): "off" | "on" | "starttls" {
    return this.#settings.secureTransport;
  }

  /**
   * Closes the socket once what was written is sent: the readable ends, the writable
   * refuses more, and `closed` settles. Closing twice is harmless.
   *
   * @param reason When given, pending reads and later writes fail with it.
   * @returns Resolves when the socket is closed.
   */
  close(reason?: unknown): Promise<void> {
    const settled = this.#closed.then(() => {}, () => {});
    if (this.#closing || this.#done) return settled;
    this.#closing = true;
    this.#opening.then(async () => {
      await this.#flush();
      this.#shutDown(reason);
    }, () => {});
    return settled;
  }

  /**
   * Upgrades a `secureTransport: "starttls"` socket to TLS, once: what was written is sent
   * first, then the handshake runs on the same connection. This socket is then
   * `upgraded` and its `closed` resolves; use the returned one.
   *
   * @param options `expectedServerHostname` (or `servername`): the name the certificate must carry.
   * @returns The TLS socket; its `opened` settles when the handshake is done.
   */
  startTls(options?: StartTlsOptions): Socket {
    const operation = "startTls";
    const target = this.#settings.target;
    if (this.#settings.secureTransport === "on") {
      throw socketsError("invalid-state", operation, target, "the socket already speaks TLS");
    }
    if (this.#settings.secureTransport !== "starttls") {
      throw socketsError("invalid-state", operation, target, 'startTls needs secureTransport: "starttls" at connect');
    }
    if (this.#tlsStarted) throw socketsError("invalid-state", operation, target, "startTls can only be called once");
    if (this.#closing || this.#done) throw socketsError("invalid-state", operation, target, "the socket is closed");
    const serverName = options?.expectedServerHostname ?? options?.servername;
    if (serverName !== undefined && (typeof serverName !== "string" || serverName === "")) {
      throw socketsError("invalid-argument", operation, target, "expectedServerHostname must be a non-empty string");
    }
    this.#tlsStarted = true;
    const settings: SocketSettings = { ...this.#settings, secureTransport: "on" };
    const secure = this.#opening.then(async (connection) => {
      await this.#flush();
      this.#handOver();
      return connection.startTls(tlsClientOptions(settings, serverName));
    });
    const next = new Socket(secure, settings);
    // The old socket closes once the new one is open (or failed): code written for
    // workerd takes the new socket's writer before it sees the old one close.
    const closeOld = (): void => this.#settle();
    next.opened.then(closeOld, closeOld);
    return next;
  }

  /** Closes the socket: `await using socket = connect(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    let connection = this.#connection;
    if (connection === undefined) {
      try {
        connection = await this.#opening;
      } catch {
        return; // #fail errored the stream
      }
    }
    if (this.#readEnded) return;
    let chunk: Uint8Array | null;
    try {
      chunk = await readConnectionChunk(connection);
    } catch (error) {
      if (!this.#readEnded) this.#fail(toSocketsError(error, "read", this.#settings.target));
      return;
    }
    if (this.#readEnded) return;
    if (chunk === null) {
      this.#readEnded = true;
      controller.close();
      if (this.#settings.allowHalfOpen || this.#writeEnded) this.#finishIfEnded();
      else this.#endWriteAfterEof();
      return;
    }
    controller.enqueue(chunk);
  }

  async #write(chunk: SocketChunk): Promise<void> {
    const bytes = chunkBytes(chunk, this.#settings.target);
    this.#writesInFlight++;
    const connection = this.#connection;
    const written = connection !== undefined ? connection.write(bytes) : this.#opening.then((open) => open.write(bytes));
    this.#lastWrite = written;
    try {
      await written;
    } catch (error) {
      const failure = toSocketsError(error, "write", this.#settings.target);
      if (!this.#done) this.#fail(failure);
      throw failure;
    } finally {
      this.#writesInFlight--;
    }
  }

  async #closeWrite(): Promise<void> {
    const connection = await this.#opening;
    try {
      await connection.closeWrite();
    } catch (error) {
      const failure = toSocketsError(error, "closeWrite", this.#settings.target);
      this.#fail(failure);
      throw failure;
    }
    this.#writeEnded = true;
    this.#finishIfEnded();
  }

  /** The peer ended and `allowHalfOpen` is false: send what was written, end ours, close. */
  async #endWriteAfterEof(): Promise<void> {
    await this.#flush();
    if (this.#done || this.#writeEnded) return;
    this.#writeEnded = true;
    try {
      await this.#connection?.closeWrite();
    } catch {
      // the peer is gone already; closing below is all there is left to do
    }
    this.#errorWritable(socketsError("invalid-state", "write", this.#settings.target, "the peer ended the connection and allowHalfOpen is false"));
    this.#finishIfEnded();
  }

  /**
   * Waits until what was written is sent: the write in flight, and those the writable
   * still holds (the stream hands them on in microtasks, so a macrotask with no write
   * in flight means none is left).
   */
  async #flush(): Promise<void> {
    for (;;) {
      await this.#lastWrite.catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (this.#writesInFlight === 0) return;
    }
  }

  #finishIfEnded(): void {
    if (this.#readEnded && this.#writeEnded) this.#shutDown(undefined);
  }

  /** Ends both streams, closes the connection and resolves `closed`. */
  #shutDown(reason: unknown): void {
    if (this.#done) return;
    this.#readEnded = true;
    this.#writeEnded = true;
    if (reason === undefined) {
      try {
        this.#readController.close();
      } catch {
        // already closed or errored
      }
    } else {
      this.#readController.error(reason);
    }
    this.#errorWritable(reason ?? socketsError("invalid-state", "write", this.#settings.target, "the socket is closed"));
    this.#connection?.close();
    this.#settle();
  }

  /** `startTls` took the connection: this socket's streams end, without closing it. */
  #handOver(): void {
    this.#upgraded = true;
    this.#readEnded = true;
    this.#writeEnded = true;
    try {
      this.#readController.close();
    } catch {
      // already closed or errored
    }
    this.#errorWritable(socketsError("invalid-state", "write", this.#settings.target, "the socket was upgraded by startTls(); use the socket it returned"));
  }

  /** An error ended the socket: both streams fail with it, `closed` rejects with it. */
  #fail(error: SocketsApiError): void {
    if (this.#done) return;
    this.#readEnded = true;
    this.#writeEnded = true;
    this.#readController.error(error);
    this.#errorWritable(error);
    this.#connection?.close();
    this.#settle(error);
  }

  #errorWritable(reason: unknown): void {
    this.#writeController.error(reason);
  }

  #settle(error?: SocketsApiError): void {
    if (this.#done) return;
    this.#done = true;
    this.#settleClosed(error);
  }
}

/** The bytes of a chunk written to the socket, without a copy. */
function chunkBytes(chunk: unknown, target: string): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  const kind = chunk === null ? "null" : typeof chunk === "object" ? chunk.constructor?.name ?? "an object" : typeof chunk;
  throw socketsError("invalid-argument", "write", target, `chunks must be an ArrayBufferView or an ArrayBuffer, not ${kind}`);
}
