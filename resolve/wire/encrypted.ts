/**
 * What DNS over TLS (`./dot.ts`) and DNS over HTTPS (`./doh.ts`) share: queries padded to
 * a multiple of 128 octets (RFC 8467), one open connection per server reused by every
 * query (a query in flight on a connection that closes is asked once more on a new
 * one), one timer per connection for the deadlines of its queries ({@linkcode DeadlineTimer}),
 * connections closed after a short idle time, and failures reported as
 * `temporary-resolver-failure` with the transport's own code in the message.
 *
 * @module
 */
import { parseIp } from "../../core/address.ts";
import type { ParsedIp } from "../../core/address.ts";
import { Connection } from "../../core/connection.ts";
import type { Driver, RawConnection } from "../../core/driver.ts";
import { SocketError, socketError } from "../../core/errors.ts";
import { checkTlsClient } from "../../core/tls.ts";
import type { EncryptedNameServer } from "./config.ts";
import { encodeQuery } from "./packet.ts";
import type { DecodedResponse, QueryType } from "./packet.ts";

/** The block size queries are padded to (RFC 8467 §4.1, the recommended Block-Length Padding). */
export const PADDING_BLOCK = 128;

/**
 * How long an encrypted connection stays open with no query in flight. Short, so that a
 * program (or a test) that is done with its resolver ends without a `close()`: RFC 7858
 * §3.4 leaves the idle time to the client.
 */
export const IDLE_CLOSE_MS = 1000;

const EDNS_OPTION_PADDING = 12;
const OPT = 41;

/**
 * Pads a query that ends with its EDNS(0) OPT record (as `encodeQuery` with `edns` makes
 * it) with the Padding option (code 12, RFC 7830) so that its length is a multiple of
 * `block` octets.
 *
 * @param message The query: header, one question, and the OPT record as the only and last record.
 * @param block The block size (default 128).
 * @returns A new, padded message.
 * @throws {SocketError} `invalid-argument` when the message is not such a query.
 *
 * @example Using `padQuery`
 * ```ts
 * import { encodeQuery } from "./packet.ts";
 * import { padQuery } from "./encrypted.ts";
 * console.log(padQuery(encodeQuery(1, "example.com", "A", true)).length); // 128
 * ```
 */
export function padQuery(message: Uint8Array, block: number = PADDING_BLOCK): Uint8Array {
  const invalid = (detail: string) => socketError("invalid-argument", "resolve", "", `cannot pad the query: ${detail}`);
  // Plain indexing, no DataView: reading `.buffer` of a small Uint8Array costs an ArrayBuffer on Bun.
  const u16 = (at: number): number => (message[at] << 8) | message[at + 1];
  if (message.length < 12 || u16(4) !== 1 || u16(6) !== 0 || u16(8) !== 0 || u16(10) !== 1) {
    throw invalid("not one question and one additional record");
  }
  let offset = 12;
  while (offset < message.length && message[offset] !== 0) {
    if (message[offset] > 63) throw invalid("a compressed or malformed question name");
    offset += message[offset] + 1;
  }
  offset += 1 + 4; // the root label, QTYPE, QCLASS
  const opt = offset;
  if (opt + 11 > message.length || message[opt] !== 0 || u16(opt + 1) !== OPT) throw invalid("no OPT record");
  const rdLength = u16(opt + 9);
  if (opt + 11 + rdLength !== message.length) throw invalid("the OPT record is not last");
  const unpadded = message.length + 4;
  const fill = (block - (unpadded % block)) % block;
  const padded = new Uint8Array(unpadded + fill);
  padded.set(message);
  const optLength = rdLength + 4 + fill;
  padded[opt + 9] = optLength >> 8;
  padded[opt + 10] = optLength & 0xff;
  padded[message.length] = EDNS_OPTION_PADDING >> 8;
  padded[message.length + 1] = EDNS_OPTION_PADDING & 0xff;
  padded[message.length + 2] = fill >> 8;
  padded[message.length + 3] = fill & 0xff;
  return padded;
}

/**
 * Encodes a recursive query for an encrypted transport: `encodeQuery` with EDNS(0), padded
 * to a multiple of 128 octets.
 *
 * @param id The query id.
 * @param name The name (lower-case ASCII).
 * @param type `"A"` or `"AAAA"`.
 * @returns The padded message.
 *
 * @example Using `encodePaddedQuery`
 * ```ts
 * import { encodePaddedQuery } from "./encrypted.ts";
 * console.log(encodePaddedQuery(7, "a.example", "AAAA").length % 128); // 0
 * ```
 */
export function encodePaddedQuery(id: number, name: string, type: QueryType): Uint8Array {
  return padQuery(encodeQuery(id, name, type, true));
}

/** One question for an encrypted channel. */
export interface EncryptedQuery {
  name: string;
  type: QueryType;
  timeoutMs: number;
  /** Counts a message that answers nothing asked (unknown ID, wrong question). */
  onDropped(): void;
}

/** A query in flight on a connection that closed: it may be asked once more on a new one. */
export class ConnectionLost extends Error {
  /** @param detail Why the connection ended. */
  constructor(detail: string) {
    super(detail);
    this.name = "ConnectionLost";
  }
}

/** One connection (or one being opened) to one encrypted server. */
export interface EncryptedChannel {
  /** Set once the connection failed, closed or was closed: a new query needs a new channel. */
  readonly done: boolean;
  /**
   * Asks one question: resolves with the checked answer; rejects with a resolver
   * `SocketError`, or with {@linkcode ConnectionLost} when the connection ended with the
   * query in flight.
   */
  ask(query: EncryptedQuery): Promise<DecodedResponse>;
  /** Closes the connection; queries in flight reject with `ConnectionLost`. */
  close(): void;
  /** Resolves once the connection is released. */
  readonly closed: Promise<void>;
}

/** What a channel needs to open its connection. */
export interface ChannelContext {
  driver: Driver;
  server: EncryptedNameServer;
  /** PEM issuers to trust instead of the runtime's store. */
  ca: string[] | undefined;
  /** Called once per connection opened (TCP and TLS done), for counting. */
  onConnected(): void;
}

/** Makes a channel for a server. */
export type ChannelFactory = (context: ChannelContext) => EncryptedChannel;

/**
 * Counters of the encrypted transports in this process, for tests: connections opened
 * (handshake done) and queries sent.
 */
export const encryptedCounters: { connections: number; queries: number } = { connections: 0, queries: 0 };

/**
 * The open channels of one resolver, by server, and the retry of a query whose
 * connection closed under it.
 */
export class EncryptedTransports {
  readonly #driver: () => Driver;
  readonly #ca: string[] | undefined;
  readonly #factories: Record<EncryptedNameServer["transport"], ChannelFactory>;
  readonly #channels = new Map<string, EncryptedChannel>();
  /** Counts `close()` calls: a query whose connection was closed by one is not asked again. */
  #closings = 0;

  /**
   * @param driver The sockets to use, looked up when a connection is opened.
   * @param ca PEM issuers to trust instead of the runtime's store.
   * @param factories How to open a channel, per transport.
   */
  constructor(driver: () => Driver, ca: string[] | undefined, factories: Record<EncryptedNameServer["transport"], ChannelFactory>) {
    this.#driver = driver;
    this.#ca = ca;
    this.#factories = factories;
  }

  /**
   * Asks `server` one question over its open connection (opened when there is none).
   *
   * @returns The answer.
   * @throws {SocketError} `temporary-resolver-failure` (cannot connect, certificate check
   *   failed, no answer in time, the connection closed twice) or `permanent-resolver-failure`.
   */
  async exchange(server: EncryptedNameServer, query: EncryptedQuery): Promise<DecodedResponse> {
    const closings = this.#closings;
    for (let round = 0; ; round++) {
      const channel = this.#channel(server);
      try {
        encryptedCounters.queries++;
        return await channel.ask(query);
      } catch (error) {
        if (!(error instanceof ConnectionLost)) throw error;
        if (this.#channels.get(server.text) === channel) this.#channels.delete(server.text);
        // Once more on a new connection, unless the resolver was closed meanwhile (nothing would close that one).
        if (round >= 1 || this.#closings !== closings) {
          throw socketError("temporary-resolver-failure", "resolve", query.name, `${server.text}: ${error.message}`, error);
        }
      }
    }
  }

  /** Closes every connection; resolves once they are released. */
  async close(): Promise<void> {
    this.#closings++;
    const channels = [...this.#channels.values()];
    this.#channels.clear();
    for (const channel of channels) channel.close();
    await Promise.all(channels.map((channel) => channel.closed));
  }

  #channel(server: EncryptedNameServer): EncryptedChannel {
    const open = this.#channels.get(server.text);
    if (open !== undefined && !open.done) return open;
    const channel = this.#factories[server.transport]({
      driver: this.#driver(),
      server,
      ca: this.#ca,
      onConnected: () => void encryptedCounters.connections++,
    });
    this.#channels.set(server.text, channel);
    return channel;
  }
}

/**
 * A failure to reach or verify an encrypted server, as the resolver reports it:
 * `temporary-resolver-failure` whose message names the server and the transport's code
 * (such as `tls-certificate-untrusted` or `connection-refused`).
 *
 * @param error What connecting failed with.
 * @param server The server.
 * @param name The name being looked up.
 * @returns The error to reject the query with.
 */
export function unreachable(error: unknown, server: EncryptedNameServer, name: string): SocketError {
  if (error instanceof SocketError && (error.code.endsWith("resolver-failure") || error.code === "name-unresolvable")) {
    return socketError("temporary-resolver-failure", "resolve", name, `${server.text}: ${error.message}`, error);
  }
  const code = error instanceof SocketError ? error.code : "unknown";
  const text = error instanceof Error ? error.message : String(error);
  return socketError("temporary-resolver-failure", "resolve", name, `${server.text}: ${code}: ${text}`, error);
}

/**
 * A random 16-bit ID not in `used`.
 *
 * @param used The IDs in flight.
 * @param random The source of random IDs.
 * @returns A free ID.
 */
export function freeId(used: ReadonlyMap<number, unknown>, random: () => number): number {
  if (used.size >= 0x10000) throw socketError("temporary-resolver-failure", "resolve", "", "65536 queries in flight on one connection");
  for (;;) {
    const id = random();
    if (!used.has(id)) return id;
  }
}

/** Builds the timeout error of one query. */
export function noAnswer(server: EncryptedNameServer, name: string, timeoutMs: number): SocketError {
  return socketError("temporary-resolver-failure", "resolve", name, `${server.text} did not answer within ${timeoutMs} ms`);
}

/**
 * Opens the TLS connection of a channel on the driver's sockets: TCP to each address of
 * the server in turn (its IP, or what the system resolver gives for its name) until one
 * connects, then the TLS handshake checked against the server's name and `context.ca`.
 *
 * @param context The server, the driver and the trusted issuers.
 * @param signal Aborts connecting (its reason is thrown).
 * @param alpn ALPN protocols to offer (`["h2"]` for DNS over HTTPS).
 * @returns The connection, handshake done.
 * @throws {SocketError} The last address's failure, or the handshake's.
 *
 * @example Using `openTls`
 * ```ts ignore
 * const connection = await openTls(context, AbortSignal.timeout(5000), ["h2"]);
 * console.log(connection.tls?.alpn); // "h2"
 * ```
 */
export async function openTls(context: ChannelContext, signal: AbortSignal, alpn?: string[]): Promise<Connection> {
  const { driver, server, ca } = context;
  const checked = checkTlsClient({ serverName: server.identity, ca, ...(alpn === undefined ? {} : { alpn }) }, server.host, "resolve");
  driver.checkTlsKeys(checked, "resolve");
  const addresses = await untilAborted(addressesOf(driver, server.host), signal);
  let failure: unknown;
  for (const address of addresses) {
    let raw: RawConnection | undefined;
    try {
      raw = await (driver.tlsSockets ?? driver).tcpConnect({
        address: address.address,
        port: server.port,
        family: address.family,
        signal,
        noDelay: true,
        keepAlive: false,
      });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      failure = error;
      continue;
    }
    let secure: RawConnection;
    try {
      secure = await driver.startTls(raw, checked, signal);
    } catch (error) {
      throw signal.aborted ? signal.reason : error;
    }
    return new Connection(secure, `tls ${server.text}`);
  }
  throw failure;
}

/** `promise`, or the signal's reason once it aborts (the driver's `lookup` takes no signal). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    promise.then((value) => {
      signal.removeEventListener("abort", abort);
      resolve(value);
    }, (error: unknown) => {
      signal.removeEventListener("abort", abort);
      reject(error);
    });
  });
}

/**
 * `promise`, or a rejection with `late` at `deadline` (a `Date.now()` time) if it has not
 * settled by then: a query waiting for a connection another query started (with its own,
 * maybe later, deadline) still fails at its own.
 *
 * @param promise What is waited for.
 * @param deadline When to stop waiting.
 * @param late The rejection at the deadline.
 * @returns The promise's value.
 */
function byDeadline<T>(promise: Promise<T>, deadline: number, late: SocketError): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(late), Math.max(0, deadline - Date.now()));
    promise.then((value) => {
      clearTimeout(timer);
      resolve(value);
    }, (error: unknown) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Waits for a channel's connection on behalf of `query`, at most until its `deadline`:
 * then it fails with the no-answer error, as a query that was sent would. A failed connect
 * is `unreachable` (a lost connection is passed on, to be asked again elsewhere).
 *
 * @param connecting The connection under way (maybe started by another query).
 * @param deadline The query's deadline (a `Date.now()` time).
 * @param server The server, for the messages.
 * @param query The query waiting.
 */
export async function connectedBy(connecting: Promise<unknown>, deadline: number, server: EncryptedNameServer, query: EncryptedQuery): Promise<void> {
  const late = noAnswer(server, query.name, query.timeoutMs);
  try {
    await byDeadline(connecting, deadline, late);
  } catch (error) {
    if (error instanceof ConnectionLost || error === late) throw error;
    throw unreachable(error, server, query.name);
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

/**
 * Runs `task` once the current macrotask and its microtasks are done (`setImmediate` where
 * there is one): the channels gather the writes of one turn of the event loop with it.
 *
 * @example Using `soon`
 * ```ts
 * import { soon } from "./encrypted.ts";
 * soon(() => console.log("after this turn"));
 * ```
 */
export const soon: (task: () => void) => void = (globalThis as { setImmediate?: (task: () => void) => void }).setImmediate ??
  ((task) => void setTimeout(task, 0));

/**
 * One timer for the deadlines of many queries (those of one connection), in place of a
 * timer per query: armed for the earliest deadline it was told of, and only re-armed when
 * a deadline comes that is earlier than the one it is armed for, or when it fires. A query
 * answered leaves the timer as it is (no `clearTimeout` per query): the timer then fires
 * for nothing, and the owner's `expire` finds nothing due and names the next deadline.
 * When it fires, `expire(now)` fails every query whose deadline is at or before `now` and
 * returns the earliest deadline left (`Infinity` for none): the timer arms itself for it.
 * A query so fails at its deadline (as late as the runtime's timer runs), never before.
 *
 * @example A channel's deadlines
 * ```ts
 * import { DeadlineTimer } from "./encrypted.ts";
 * const deadlines = new Map<string, number>([["a", Date.now() + 50]]);
 * const timer = new DeadlineTimer((now) => {
 *   let next = Infinity;
 *   for (const [name, at] of deadlines) {
 *     if (at <= now) {
 *       deadlines.delete(name);
 *       console.log(`${name} timed out`);
 *     } else next = Math.min(next, at);
 *   }
 *   return next;
 * });
 * timer.need(deadlines.get("a")!);
 * ```
 */
export class DeadlineTimer {
  readonly #expire: (now: number) => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the timer is armed for (`Infinity` when it is not). */
  #at = Number.POSITIVE_INFINITY;
  /** Counts `stop()` calls: one from inside `expire` (the owner ended) keeps the timer stopped. */
  #stops = 0;
  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
    const stops = this.#stops;
    const next = this.#expire(Date.now());
    // `need` may have armed it meanwhile (from inside `expire`), for an earlier time or not.
    if (this.#stops === stops && next < this.#at) this.#arm(next);
  };

  /**
   * @param expire Fails the queries due at `now`; returns the earliest deadline left,
   *   `Infinity` when there is none (or the owner ended).
   */
  constructor(expire: (now: number) => number) {
    this.#expire = expire;
  }

  /** Makes sure the timer fires by `deadline` (a `Date.now()` time). */
  need(deadline: number): void {
    if (deadline < this.#at) this.#arm(deadline);
  }

  /** Stops the timer (the owner ended); a later `need` arms it again. */
  stop(): void {
    this.#stops++;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#at = at;
    this.#timer = setTimeout(this.#fire, Math.max(0, at - Date.now()));
  }
}

/**
 * What the DoT and DoH channels share around their one connection: connecting with a
 * deadline (aborted when the channel ends), one write per turn of the event loop, the
 * close after `IDLE_CLOSE_MS` with nothing in flight, and `closed` once the connection is
 * closed at the end.
 *
 * @example A channel's skeleton
 * ```ts ignore
 * const life = new ChannelLife(() => flushQueued(), () => end("the connection was idle"));
 * const connection = await life.connectWithin(server, 5000, "TLS connection", (signal) => openTls(context, signal));
 * life.scheduleFlush();
 * ```
 */
export class ChannelLife {
  /** Resolves once the channel ended and its connection is closed. */
  readonly closed: Promise<void>;
  #released!: () => void;
  #idle: ReturnType<typeof setTimeout> | undefined;
  #connectAbort: AbortController | undefined;
  #flushScheduled = false;
  readonly #flush: () => void;
  readonly #onIdle: () => void;

  /**
   * @param flush Writes what the channel has queued (called once per turn by `scheduleFlush`).
   * @param onIdle Called when the idle timer runs out; the channel checks it is still idle.
   */
  constructor(flush: () => void, onIdle: () => void) {
    this.#flush = flush;
    this.#onIdle = onIdle;
    this.closed = new Promise((resolve) => (this.#released = resolve));
  }

  /** Whether the idle timer is running. */
  get idling(): boolean {
    return this.#idle !== undefined;
  }

  /** Stops the idle timer: a query came. */
  busy(): void {
    if (this.#idle === undefined) return;
    clearTimeout(this.#idle);
    this.#idle = undefined;
  }

  /** Starts the idle timer, unless it runs already. */
  idle(): void {
    if (this.#idle !== undefined) return;
    this.#idle = setTimeout(() => {
      this.#idle = undefined;
      this.#onIdle();
    }, IDLE_CLOSE_MS);
  }

  /** Calls the channel's flush once everything of this turn of the event loop is queued. */
  scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    soon(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  /**
   * Runs `connect` with a signal that aborts after `timeoutMs` (a `timeout` error: "no
   * `what` within …") or when the channel ends meanwhile.
   */
  async connectWithin<T>(server: EncryptedNameServer, timeoutMs: number, what: string, connect: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    this.#connectAbort = controller;
    const timer = setTimeout(
      () => controller.abort(socketError("timeout", "tls.connect", server.text, `no ${what} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      return await connect(controller.signal);
    } finally {
      clearTimeout(timer);
      this.#connectAbort = undefined;
    }
  }

  /**
   * The channel's end: stops the idle timer, aborts a connect under way with `reason`,
   * closes the connection (or the one still coming) and resolves `closed` once it is closed.
   */
  end(reason: unknown, connection: Connection | undefined, connecting: Promise<Connection> | undefined): void {
    this.busy();
    this.#connectAbort?.abort(reason);
    if (connection === undefined) {
      if (connecting === undefined) this.#released();
      else void connecting.then((c) => c.close(), () => {}).finally(() => this.#released());
      return;
    }
    connection.close();
    void connection.closed.then(() => this.#released());
  }
}
