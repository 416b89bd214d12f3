/**
 * One socket of the UDP pool (`udp_pool.ts`) and the queries waiting on it by ID.
 *
 * A socket dispatches each datagram by its ID to the query waiting for it. IDs are random
 * (the platform CSPRNG) and never repeat on one socket, so a late reply to a settled query
 * can never be taken for another query on the same socket; such late datagrams are ignored
 * without being counted. A reply is accepted only from the server asked (address and
 * port: checked here as well, connected or not), with the query's ID, and the same
 * question (type, class, and the name: with DNS 0x20 byte for byte, otherwise ignoring
 * ASCII case; see `query_bytes.ts`).
 *
 * One timer per socket serves both the queries' deadlines and the idle close: it is armed
 * for the earliest deadline (but at most {@linkcode IDLE_CLOSE_MS} ahead) when a query comes
 * in that needs it sooner than it is armed for, and otherwise only re-armed when it fires
 * (it then rejects what has expired, closes the socket if idle long enough, and arms itself
 * for what is next), so the query path sets no timer of its own.
 *
 * @module
 */
import { formatSocketAddress } from "../../core/address.ts";
import type { DatagramSink, Driver, RawUdpSocket } from "../../core/driver.ts";
import { SocketError, socketError } from "../../core/errors.ts";
import type { NameServer } from "./config.ts";
import { answersQuery, decodeResponse } from "./packet.ts";
import type { DecodedResponse } from "./packet.ts";
import { lowerCaseCopy, lowerCaseName, markNoCaseEcho, questionEnd, randomId, randomizeCase, sameQuestion } from "./query_bytes.ts";
import type { Exchange } from "./transport.ts";

/** How many queries one socket carries at most unless the exchange says otherwise. */
export const DEFAULT_MAX_QUERIES_PER_SOCKET = 100;
/** How long a socket with nothing in flight stays open. */
export const IDLE_CLOSE_MS = 1000;

/**
 * Who hears how a query sent with `sendUdp` (`udp_pool.ts`) ended: exactly one of the two, once.
 *
 * @example A sink that logs
 * ```ts
 * import type { ExchangeSink } from "./pooled_socket.ts";
 * const sink: ExchangeSink = { answered: (response) => console.log(response.rcode), failed: (error) => console.log(error) };
 * console.log(typeof sink.answered);
 * ```
 */
export interface ExchangeSink {
  /** The server's reply (checked: source, ID, question). */
  answered(response: DecodedResponse): void;
  /** Why there is no reply: as `exchangeUdp` (`udp_pool.ts`) rejects. */
  failed(error: unknown): void;
}

/** One query in flight. */
export class Pending {
  readonly exchange: Exchange;
  readonly sink: ExchangeSink;
  /** The socket it waits on; undefined once settled. */
  socket: PooledSocket | undefined;
  id = 0;
  deadline: number;
  /** The bytes sent (with our ID, and with 0x20 when `exact`). */
  sent: Uint8Array;
  /** The end of the question in `sent`. */
  end: number;
  /** Whether the reply's question must match byte for byte (0x20 in use). */
  exact = false;
  /** Asked again (without 0x20): on a fresh ID, not the exchange's. */
  fresh = false;
  /** The exchange's own message got the 0x20 case (see `Exchange.ownMessage`). */
  rewritten = false;
  onAbort: (() => void) | undefined;

  constructor(exchange: Exchange, sink: ExchangeSink, now: number) {
    this.exchange = exchange;
    this.sink = sink;
    this.deadline = now + exchange.timeoutMs;
    this.sent = exchange.message;
    this.end = questionEnd(exchange.message);
  }
}

/** What a socket asks of the pool it belongs to (`udp_pool.ts`: the sockets of one driver for one server). */
export interface SocketPool {
  /** The socket taking new queries. */
  active: PooledSocket | undefined;
  /** Binds the socket to take over from the active one ahead, unless there is one (or a bind failed lately). */
  prepare(): void;
  /** A socket's bind ended, bound or not. */
  bound(ok: boolean): void;
  /** A socket closed. */
  closed(socket: PooledSocket): void;
  /** Asks `pending` again without 0x20 (its server does not echo case), on the socket taking new queries. */
  resubmit(pending: Pending): void;
}

/** One socket of the pool, with the queries waiting on it by ID. */
export class PooledSocket {
  readonly pool: SocketPool;
  /**
   * Every ID this socket has sent with (at most its query limit), in the order sent: the
   * query waiting for it, or null once that settled. (Kept, not deleted: a map that grows
   * and shrinks with every batch of queries reallocates its table each time.)
   */
  readonly ids = new Map<number, Pending | null>();
  /** How many queries wait on this socket (the IDs not null). */
  inFlight = 0;
  /** The query sent last: the one a datagram that matches none is counted against, while it waits. */
  lastAdded: Pending | undefined;
  raw: RawUdpSocket | undefined;
  /** Queries that came while binding, in order. */
  waiting: Pending[] | undefined = [];
  /** Queries to send together at the end of this turn (runtimes with a batch send). */
  outbox: Pending[] = [];
  carried = 0;
  retired = false;
  closed = false;
  lastActive: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  timerAt = 0;

  constructor(pool: SocketPool, now: number) {
    this.pool = pool;
    this.lastActive = now;
  }

  /** Binds the socket (connected to the pool's server where the driver can), then sends what queued meanwhile. */
  open(driver: Driver, server: NameServer): void {
    const sink: DatagramSink = {
      message: (datagram) => this.receive(datagram.data, datagram.address, datagram.port),
      error: (error) => this.fail(error),
    };
    const family = server.family;
    const request = {
      address: family === "ipv6" ? "::" : "0.0.0.0",
      port: 0,
      family,
      reuseAddress: false,
      ipv6Only: false,
      connect: { address: server.address, port: server.port },
    };
    let binding: Promise<RawUdpSocket>;
    try {
      binding = driver.udpBind(request, sink);
    } catch (error) {
      // A driver that throws (say, out of descriptors) fails like one that rejects: later, not in the caller's query.
      binding = Promise.reject(error);
    }
    binding
      .then((raw) => {
        this.pool.bound(true);
        const waiting = this.waiting ?? [];
        this.waiting = undefined;
        if (this.closed) {
          raw.close();
          return;
        }
        this.raw = raw;
        for (const pending of waiting) if (pending.socket === this) this.transmit(pending);
        this.settled();
      }, (error: unknown) => {
        this.pool.bound(false);
        this.fail(error);
      });
  }

  /** Takes a query: an ID unique on this socket, 0x20, the deadline timer; sends it once bound. */
  add(pending: Pending, useCase: boolean): void {
    const exchange = pending.exchange;
    let id = pending.fresh ? randomId() : exchange.id;
    while (this.ids.has(id)) id = randomId();
    this.ids.set(id, pending);
    this.inFlight++;
    this.lastAdded = pending;
    pending.id = id;
    pending.socket = this;
    const message = exchange.message;
    const end = pending.end;
    pending.exact = false;
    if (useCase && end > 0 && exchange.ownMessage === true && !pending.rewritten && lowerCaseName(message, end)) {
      // The message is ours to write: 0x20 in place, no copy (undone on a copy if asked again without it).
      pending.exact = pending.rewritten = randomizeCase(message, end);
      pending.sent = message;
    } else if (useCase && end > 0) {
      const bytes = message.slice();
      pending.exact = randomizeCase(bytes, end);
      pending.sent = pending.exact ? bytes : message;
    } else {
      pending.sent = pending.rewritten ? lowerCaseCopy(message, end) : message;
    }
    if (id !== exchange.id || (message[0] << 8 | message[1]) !== id) {
      if (pending.sent === message) pending.sent = message.slice();
      pending.sent[0] = id >> 8;
      pending.sent[1] = id & 0xff;
    }
    const limit = exchange.maxQueriesPerSocket ?? DEFAULT_MAX_QUERIES_PER_SOCKET;
    if (++this.carried >= limit) this.retire();
    // Half way through its queries, the socket to take over is bound (and connected) ahead,
    // so that the queries after the switch do not wait for it.
    else if (this.carried * 2 >= limit && this.pool.active === this) this.pool.prepare();
    // The timer wakes for the earliest deadline, and at least every IDLE_CLOSE_MS while in use,
    // so that a socket gone idle closes within twice that whatever the queries' timeouts.
    const wake = Math.min(pending.deadline, pending.deadline - exchange.timeoutMs + IDLE_CLOSE_MS);
    if (this.timer === undefined || wake < this.timerAt) this.arm(wake);
    if (this.raw !== undefined) this.transmit(pending);
    else this.waiting?.push(pending);
  }

  transmit(pending: Pending): void {
    if (this.raw?.sendMany !== undefined) {
      // Where the runtime sends a batch in one call (Bun), the queries of one turn go together.
      if (this.outbox.push(pending) === 1) queueMicrotask(() => this.flush());
      return;
    }
    this.sendOne(pending);
  }

  /** Sends the queries queued in this turn in one batch; what the batch did not take goes one by one. */
  flush(): void {
    const batch = this.outbox;
    this.outbox = [];
    const raw = this.raw;
    if (raw === undefined) {
      for (const pending of batch) this.settle(pending)?.sink.failed(asResolverError(new Error("socket is closed"), pending.exchange));
      return;
    }
    const live = batch.filter((pending) => pending.socket === this);
    if (live.length === 1 || raw.sendMany === undefined) {
      for (const pending of live) this.sendOne(pending);
      return;
    }
    if (live.length === 0) return;
    const datagrams = live.map((pending) => ({ data: pending.sent, address: pending.exchange.server.address, port: pending.exchange.server.port }));
    raw.sendMany(datagrams).then((sent) => {
      for (let i = sent; i < live.length; i++) if (live[i].socket === this && this.raw !== undefined) this.sendOne(live[i]);
    }, (error: unknown) => {
      for (const pending of live) this.settle(pending)?.sink.failed(asResolverError(error, pending.exchange));
    });
  }

  sendOne(pending: Pending): void {
    const server = pending.exchange.server;
    const failed = (error: unknown): void => void this.settle(pending)?.sink.failed(asResolverError(error, pending.exchange));
    let sending: Promise<void> | undefined;
    try {
      // `pending.sent` is never written after this: the driver may keep it and report only failures.
      sending = this.raw!.send(pending.sent, server.address, server.port, failed);
    } catch (error) {
      failed(error);
      return;
    }
    sending?.then(undefined, failed);
  }

  /** No more queries go out on this socket; it closes once the last one settles. */
  retire(): void {
    if (this.retired) return;
    this.retired = true;
    if (this.pool.active === this) this.pool.active = undefined;
  }

  /**
   * Takes `pending` off this socket; the pending itself, or undefined when it was already
   * settled. `moving`: it goes on to another ask, so its abort listener stays.
   */
  settle(pending: Pending, moving = false): Pending | undefined {
    if (pending.socket !== this) return undefined;
    pending.socket = undefined;
    this.ids.set(pending.id, null);
    this.inFlight--;
    if (!moving && pending.onAbort !== undefined) pending.exchange.signal?.removeEventListener("abort", pending.onAbort);
    this.settled();
    return pending;
  }

  /** After a query left: note the time; close a retired socket with nothing in flight. */
  settled(): void {
    if (this.inFlight > 0) return;
    this.lastActive = Date.now();
    if (this.retired && this.raw !== undefined) this.close();
  }

  receive(data: Uint8Array, address: string, port: number): void {
    if (data.length < 2) return this.unmatched();
    const id = (data[0] << 8) | data[1];
    const pending = this.ids.get(id);
    // A late reply to a query that has settled (null) means nothing; anything else is a drop.
    if (pending === undefined) return this.unmatched();
    if (pending === null) return;
    const exchange = pending.exchange;
    const server = exchange.server;
    if (address !== server.address || port !== server.port) return exchange.onDropped();
    let response: DecodedResponse;
    try {
      response = decodeResponse(data, exchange.name);
    } catch (error) {
      this.settle(pending)?.sink.failed(error);
      return;
    }
    if (!answersQuery(response, id, exchange.name, exchange.type)) return exchange.onDropped();
    if (pending.exact && !sameQuestion(data, pending.sent, pending.end, false)) {
      // The same question but for case: this server does not echo case. Ask again without 0x20.
      markNoCaseEcho(server);
      exchange.onDropped();
      // A query already failed with its whole socket is not asked again.
      if (this.settle(pending, true) === undefined) return;
      pending.fresh = true;
      this.pool.resubmit(pending);
      return;
    }
    this.settle(pending)?.sink.answered(response);
  }

  /**
   * A datagram no query on this socket waits for: counted against a query waiting (its
   * resolver's stats), the one sent last while it waits, so that a flood of such datagrams
   * does not walk every ID the socket used.
   */
  unmatched(): void {
    if (this.inFlight === 0) return;
    const last = this.lastAdded;
    if (last !== undefined && last.socket === this) return last.exchange.onDropped();
    for (const pending of this.ids.values()) if (pending !== null) return pending.exchange.onDropped();
  }

  arm(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.tick(), Math.max(0, at - Date.now()));
  }

  /** The timer: rejects expired queries, closes the socket when idle long enough, re-arms. */
  tick(): void {
    this.timer = undefined;
    if (this.closed) return;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const pending of this.ids.values()) {
      if (pending === null) continue;
      if (pending.deadline <= now) {
        const exchange = pending.exchange;
        this.settle(pending)?.sink.failed(
          socketError("temporary-resolver-failure", "resolve", exchange.name, `${formatSocketAddress(exchange.server)} did not answer within ${exchange.timeoutMs} ms`),
        );
      } else if (pending.deadline < next) next = pending.deadline;
    }
    if (this.closed) return;
    if (this.inFlight === 0) {
      if (now - this.lastActive >= IDLE_CLOSE_MS) return this.close();
      next = this.lastActive + IDLE_CLOSE_MS;
    } else {
      next = Math.min(next, now + IDLE_CLOSE_MS);
    }
    this.arm(next);
  }

  /** Something failed the whole socket: every query on it fails. */
  fail(error: unknown): void {
    const queries: Pending[] = [];
    // Settled here: a datagram that comes before the socket is really closed matches none.
    for (const [id, pending] of this.ids) {
      if (pending === null) continue;
      queries.push(pending);
      this.ids.set(id, null);
    }
    this.inFlight = 0;
    // Closed here too: a driver reports an error without closing its socket (Bun does).
    this.close();
    for (const pending of queries) {
      if (pending.socket !== this) continue;
      pending.socket = undefined;
      if (pending.onAbort !== undefined) pending.exchange.signal?.removeEventListener("abort", pending.onAbort);
      pending.sink.failed(asResolverError(error, pending.exchange));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.retire();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.pool.closed(this);
    const raw = this.raw;
    this.raw = undefined;
    // Closing (a system call) waits for the next macrotask: the caller has its answer first,
    // and no runtime sees its socket closed from inside its own receive callback.
    if (raw !== undefined) {
      setTimeout(() => {
        try {
          raw.close();
        } catch {
          // The runtime closed it already (after an error).
        }
      }, 0);
    }
  }
}

/** Network errors become temporary resolver failures; resolver codes and aborts pass. */
function asResolverError(error: unknown, exchange: Exchange): unknown {
  const name = exchange.name;
  const where = formatSocketAddress(exchange.server);
  if (!(error instanceof SocketError)) {
    return socketError("temporary-resolver-failure", "resolve", name, `${where}: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  if (error.code.endsWith("resolver-failure") || error.code === "name-unresolvable") return error;
  return socketError("temporary-resolver-failure", "resolve", name, `${where}: ${error.message}`, error);
}
