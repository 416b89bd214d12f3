/**
 * DNS over TLS (RFC 7858) on unisock's own TCP and TLS: one connection per server, many
 * queries in flight on it at once (RFC 7766 §6.2.1.1 pipelining, answers in any order,
 * matched by ID), 2-byte length framing, each query a write of its own, at most `WINDOW`
 * (16) written and unanswered at once (more wait for answers; see `WINDOW`).
 *
 * @module
 */
import { parseIp } from "../../core/address.ts";
import type { ParsedIp } from "../../core/address.ts";
import { Connection, readConnectionChunk } from "../../core/connection.ts";
import type { Driver, RawConnection } from "../../core/driver.ts";
import { socketError } from "../../core/errors.ts";
import { checkTlsClient } from "../../core/tls.ts";
import { ConnectionLost, encodePaddedQuery, freeId, IDLE_CLOSE_MS, noAnswer, unreachable } from "./encrypted.ts";
import type { ChannelContext, EncryptedChannel, EncryptedQuery } from "./encrypted.ts";
import { answersQuery, decodeResponse, frameForTcp, TcpFrameReader } from "./packet.ts";
import type { DecodedResponse } from "./packet.ts";
import { randomId } from "./transport.ts";

interface Pending {
  query: EncryptedQuery;
  resolve(response: DecodedResponse): void;
  reject(error: unknown): void;
  timer: ReturnType<typeof setTimeout>;
  /** The framed query while it waits for a place in the window; undefined once written. */
  unsent: Uint8Array | undefined;
}

/**
 * Queries written and not yet answered, at most, on one connection; more wait, in order,
 * and each answer read lets the next one be written. A server that leaves Nagle's
 * algorithm on (unbound 1.17 on its DNS-over-TLS port) holds every answer after the first
 * unacknowledged one until the client acknowledges, and a client with nothing to send
 * acknowledges late (its delayed ACK, up to 40 ms on Linux). With queries waiting, the
 * write that follows each answer carries that acknowledgement at once: measured with 64
 * queries at a time against unbound 1.17, about twice (Node) to four times (Bun) the
 * lookups/s of writing every query at once. Below the window nothing changes.
 */
const WINDOW = 16;

/**
 * Opens a DNS-over-TLS channel to `context.server`; it connects on its first query.
 *
 * @param context The server, the driver and the trusted issuers.
 * @returns The channel.
 */
export function dotChannel(context: ChannelContext): EncryptedChannel {
  return new DotChannel(context);
}

class DotChannel implements EncryptedChannel {
  readonly #context: ChannelContext;
  readonly #pending = new Map<number, Pending>();
  /** IDs of queries waiting for a place in the window, oldest first. */
  #queue: number[] = [];
  #written = 0;
  #connecting: Promise<Connection> | undefined;
  #connection: Connection | undefined;
  #done = false;
  /** Aborts connecting when the channel is closed meanwhile. */
  #connectAbort: AbortController | undefined;
  #why = "the server closed the connection";
  #idle: ReturnType<typeof setTimeout> | undefined;
  #released!: () => void;
  readonly closed: Promise<void> = new Promise((resolve) => (this.#released = resolve));

  constructor(context: ChannelContext) {
    this.#context = context;
  }

  get done(): boolean {
    return this.#done;
  }

  async ask(query: EncryptedQuery): Promise<DecodedResponse> {
    if (this.#idle !== undefined) {
      clearTimeout(this.#idle);
      this.#idle = undefined;
    }
    this.#connecting ??= this.#connect(query.timeoutMs);
    let connection: Connection;
    try {
      connection = await this.#connecting;
    } catch (error) {
      if (error instanceof ConnectionLost) throw error;
      throw unreachable(error, this.#context.server, query.name);
    }
    if (this.#done) throw new ConnectionLost(this.#why);
    const id = freeId(this.#pending, randomId);
    const message = encodePaddedQuery(id, query.name, query.type);
    const answer = new Promise<DecodedResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        const pending = this.#pending.get(id);
        this.#pending.delete(id);
        if (pending !== undefined && pending.unsent === undefined) this.#written--;
        reject(noAnswer(this.#context.server, query.name, query.timeoutMs));
        this.#flush();
        this.#maybeIdle();
      }, query.timeoutMs);
      this.#pending.set(id, { query, resolve, reject, timer, unsent: frameForTcp(message) });
    });
    this.#queue.push(id);
    this.#flush();
    return answer;
  }

  close(): void {
    this.#end("the connection was closed");
  }

  /** Writes waiting queries while the window has room. */
  #flush(): void {
    const connection = this.#connection;
    if (connection === undefined || this.#done) return;
    while (this.#written < WINDOW && this.#queue.length > 0) {
      const pending = this.#pending.get(this.#queue.shift()!);
      if (pending?.unsent === undefined) continue; // timed out meanwhile
      this.#send(connection, pending.unsent);
      pending.unsent = undefined;
      this.#written++;
    }
  }

  /**
   * Writes one framed query, in a write (one TLS record) of its own: measured against
   * unbound 1.17, queries gathered into one record had all but the first answered tens of
   * milliseconds late. The Connection keeps the writes in order.
   */
  #send(connection: Connection, message: Uint8Array): void {
    connection.write(message).catch((error: unknown) =>
      this.#end(`writing failed: ${error instanceof Error ? error.message : error}`)
    );
  }

  async #connect(timeoutMs: number): Promise<Connection> {
    const { driver, server, ca } = this.#context;
    const controller = new AbortController();
    this.#connectAbort = controller;
    const timer = setTimeout(
      () => controller.abort(socketError("timeout", "tls.connect", server.text, `no TLS connection within ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      const checked = checkTlsClient({ serverName: server.identity, ca }, server.host, "resolve");
      driver.checkTlsKeys(checked, "resolve");
      const addresses = await addressesOf(driver, server.host);
      let failure: unknown;
      for (const address of addresses) {
        let raw: RawConnection | undefined;
        try {
          raw = await (driver.tlsSockets ?? driver).tcpConnect({
            address: address.address,
            port: server.port,
            family: address.family,
            signal: controller.signal,
            noDelay: true,
            keepAlive: false,
          });
        } catch (error) {
          if (controller.signal.aborted) throw controller.signal.reason;
          failure = error;
          continue;
        }
        let secure: RawConnection;
        try {
          secure = await driver.startTls(raw, checked, controller.signal);
        } catch (error) {
          throw controller.signal.aborted ? controller.signal.reason : error;
        }
        const connection = new Connection(secure, `tls ${server.text}`);
        if (this.#done) {
          connection.close();
          throw new ConnectionLost(this.#why);
        }
        this.#connection = connection;
        this.#context.onConnected();
        void this.#readLoop(connection);
        return connection;
      }
      throw failure;
    } catch (error) {
      this.#end("connecting failed");
      throw error;
    } finally {
      clearTimeout(timer);
      this.#connectAbort = undefined;
    }
  }

  async #readLoop(connection: Connection): Promise<void> {
    const frames = new TcpFrameReader();
    try {
      for (;;) {
        const chunk = await readConnectionChunk(connection);
        if (chunk === null) break;
        for (const frame of frames.push(chunk)) this.#deliver(frame);
      }
      this.#end("the server closed the connection");
    } catch (error) {
      this.#end(`the connection failed: ${error instanceof Error ? error.message : error}`);
    }
  }

  #deliver(frame: Uint8Array): void {
    const id = frame.length >= 2 ? (frame[0] << 8) | frame[1] : -1;
    const pending = this.#pending.get(id);
    if (pending === undefined) {
      // An ID no query in flight has (answered, timed out, or never asked).
      this.#anyQuery()?.onDropped();
      return;
    }
    const { query } = pending;
    let response: DecodedResponse;
    try {
      response = decodeResponse(frame, query.name);
    } catch (error) {
      this.#settle(id, pending);
      pending.reject(error);
      return;
    }
    if (!answersQuery(response, id, query.name, query.type)) {
      query.onDropped();
      return;
    }
    this.#settle(id, pending);
    pending.resolve(response);
  }

  #settle(id: number, pending: Pending): void {
    clearTimeout(pending.timer);
    this.#pending.delete(id);
    if (pending.unsent === undefined) this.#written--;
    this.#flush();
    this.#maybeIdle();
  }

  #anyQuery(): EncryptedQuery | undefined {
    for (const pending of this.#pending.values()) return pending.query;
    return undefined;
  }

  /** With nothing in flight, closes the connection after the idle time. */
  #maybeIdle(): void {
    if (this.#pending.size > 0 || this.#done || this.#idle !== undefined) return;
    this.#idle = setTimeout(() => {
      this.#idle = undefined;
      if (this.#pending.size === 0) this.#end("the connection was idle");
    }, IDLE_CLOSE_MS);
  }

  /** Ends the channel: queries in flight reject with ConnectionLost (retried once elsewhere). */
  #end(why: string): void {
    if (this.#done) return;
    this.#done = true;
    this.#why = why;
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    this.#idle = undefined;
    const lost = new ConnectionLost(why);
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(lost);
    }
    this.#pending.clear();
    this.#queue = [];
    this.#written = 0;
    this.#connectAbort?.abort(lost);
    const connection = this.#connection;
    if (connection === undefined) {
      if (this.#connecting === undefined) this.#released();
      else void this.#connecting.then((c) => c.close(), () => {}).finally(() => this.#released());
      return;
    }
    connection.close();
    void connection.closed.then(() => this.#released());
  }
}

/** The addresses of the server: its IP, or what the system resolver gives for its name. */
async function addressesOf(driver: Driver, host: string): Promise<ParsedIp[]> {
  const literal = parseIp(host);
  if (literal !== undefined) return [literal];
  const addresses = (await driver.lookup(host, "any")).map((address) => parseIp(address)).filter((ip) => ip !== undefined);
  if (addresses.length === 0) throw socketError("name-unresolvable", "resolve", host, "the system resolver gave no address");
  return addresses;
}
