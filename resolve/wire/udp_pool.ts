/**
 * DNS over UDP from a small pool of sockets on random source ports.
 *
 * Per driver and per server (address and port) there is at most one socket taking new
 * queries (the "active" one), bound to port 0 so the OS picks a random port, and connected
 * to that server (`connect(2)`, as c-ares does) where the driver can: the kernel then
 * drops datagrams from anyone else, and a send needs no destination (on Node it skips
 * dgram's per-send lookup and tick). It carries at most `maxQueriesPerSocket` queries
 * (default {@linkcode DEFAULT_MAX_QUERIES_PER_SOCKET}); the query that reaches the limit
 * retires it: no more queries go out on it, and it is closed as soon as its last query
 * settles, while the next query goes out on a fresh socket (a fresh random port), bound
 * and connected ahead once the active one is half way through its queries. So at most two
 * sockets are open per driver and server (the active one and that spare), plus the retired
 * ones still waiting for their last replies. A socket with nothing in flight is closed after {@linkcode IDLE_CLOSE_MS}
 * (between that and twice that, as its one timer checks lazily). A connected socket the
 * server's host refuses (ICMP port unreachable) fails the queries on it at once.
 *
 * A socket dispatches each datagram by its ID to the query waiting for it. IDs are random
 * (the platform CSPRNG) and never repeat on one socket, so a late reply to a settled query
 * can never be taken for another query on the same socket; such late datagrams are ignored
 * without being counted. A reply is accepted only from the server asked (address and
 * port: checked here as well, connected or not), with the query's ID, and the same
 * question (type, class, and the name: with DNS 0x20 byte for byte, otherwise ignoring
 * ASCII case).
 *
 * DNS 0x20 (draft-vixie-dnsext-dns0x20): the letters of the question name are put in
 * random case in the bytes sent. A reply whose question matches ours only ignoring case
 * marks the server (address and port, for the whole process) as one that does not echo
 * case: the reply is dropped (counted), the query is asked again at once without 0x20 on
 * a fresh ID, and later queries to that server go without 0x20.
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
import type { Exchange } from "./transport.ts";

/** How many queries one socket carries at most unless the exchange says otherwise. */
export const DEFAULT_MAX_QUERIES_PER_SOCKET = 100;
/** How long a socket with nothing in flight stays open. */
export const IDLE_CLOSE_MS = 1000;
const HEADER = 12;

const ids = new Uint16Array(2048);
let nextId = ids.length;

/** A random 16-bit query ID from the platform's CSPRNG (drawn 2048 at a time: one call costs microseconds). */
export function randomId(): number {
  if (nextId === ids.length) {
    crypto.getRandomValues(ids);
    nextId = 0;
  }
  return ids[nextId++];
}

const caseBits = new Uint8Array(4096);
let nextCaseByte = caseBits.length;

/** 8 random bits from the CSPRNG, drawn 4096 bytes at a time. */
function randomByte(): number {
  if (nextCaseByte === caseBits.length) {
    crypto.getRandomValues(caseBits);
    nextCaseByte = 0;
  }
  return caseBits[nextCaseByte++];
}

/** Servers seen not to echo the question's case: port → addresses. */
const noCaseEcho = new Map<number, Set<string>>();

function echoesCase(server: NameServer): boolean {
  return noCaseEcho.get(server.port)?.has(server.address) !== true;
}

function markNoCaseEcho(server: NameServer): void {
  let addresses = noCaseEcho.get(server.port);
  if (addresses === undefined) noCaseEcho.set(server.port, addresses = new Set());
  addresses.add(server.address);
}

/**
 * Internal, for tests: forgets which servers were seen not to echo case.
 */
export function resetCaseEchoMemory(): void {
  noCaseEcho.clear();
}

/**
 * The end of the question (name, type, class) of a message starting at `HEADER`, or -1
 * when the name runs past the end or holds a pointer.
 */
function questionEnd(bytes: Uint8Array): number {
  let at = HEADER;
  while (at < bytes.length) {
    const length = bytes[at];
    if (length === 0) return at + 5 <= bytes.length ? at + 5 : -1;
    if (length > 63) return -1;
    at += length + 1;
  }
  return -1;
}

/** Puts the letters of the question name of `bytes` (a copy of ours) in random case; whether it has any letter. */
function randomizeCase(bytes: Uint8Array, end: number): boolean {
  let letters = false;
  let bits = 0;
  let left = 0;
  let at = HEADER;
  const nameEnd = end - 5;
  while (at < nameEnd) {
    const length = bytes[at];
    for (let i = at + 1; i <= at + length; i++) {
      const byte = bytes[i] | 0x20;
      if (byte < 0x61 || byte > 0x7a) continue;
      letters = true;
      if (left === 0) {
        bits = randomByte();
        left = 8;
      }
      bytes[i] = (bits & 1) === 0 ? byte : byte & ~0x20;
      bits >>= 1;
      left--;
    }
    at += length + 1;
  }
  return letters;
}

/** Whether the question name of `bytes` (up to `end`) has no upper-case letter: lowering it then gives it back. */
function lowerCaseName(bytes: Uint8Array, end: number): boolean {
  for (let i = HEADER; i < end - 4; i++) {
    const byte = bytes[i];
    if (byte >= 0x41 && byte <= 0x5a) return false;
  }
  return true;
}

/** A copy of `bytes` with the letters of its question name (up to `end`) in lower case. */
function lowerCaseCopy(bytes: Uint8Array, end: number): Uint8Array {
  const copy = bytes.slice();
  let at = HEADER;
  while (at < end - 5) {
    const length = copy[at];
    for (let i = at + 1; i <= at + length; i++) {
      const byte = copy[i];
      if (byte >= 0x41 && byte <= 0x5a) copy[i] = byte | 0x20;
    }
    at += length + 1;
  }
  return copy;
}

/** Whether `reply` holds the same question bytes as `sent` from `HEADER` to `end`, optionally ignoring ASCII case. */
function sameQuestion(reply: Uint8Array, sent: Uint8Array, end: number, ignoreCase: boolean): boolean {
  if (reply.length < end || reply[4] !== 0 || reply[5] !== 1) return false;
  for (let i = HEADER; i < end; i++) {
    const a = reply[i];
    const b = sent[i];
    if (a === b) continue;
    if (!ignoreCase || (a | 0x20) !== (b | 0x20)) return false;
    const lower = a | 0x20;
    if (lower < 0x61 || lower > 0x7a) return false;
  }
  return true;
}

/**
 * Who hears how a query sent with {@linkcode sendUdp} ended: exactly one of the two, once.
 *
 * @example A sink that logs
 * ```ts
 * import type { ExchangeSink } from "./udp_pool.ts";
 * const sink: ExchangeSink = { answered: (response) => console.log(response.rcode), failed: (error) => console.log(error) };
 * console.log(typeof sink.answered);
 * ```
 */
export interface ExchangeSink {
  /** The server's reply (checked: source, ID, question). */
  answered(response: DecodedResponse): void;
  /** Why there is no reply: as {@linkcode exchangeUdp} rejects. */
  failed(error: unknown): void;
}

/** One query in flight. */
class Pending {
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

/** One socket of the pool, with the queries waiting on it by ID. */
class PooledSocket {
  readonly pool: Pool;
  readonly pending = new Map<number, Pending>();
  /** Every ID this socket has sent with (at most its query limit). */
  readonly used = new Set<number>();
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

  constructor(pool: Pool, now: number) {
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
    driver.udpBind(request, sink)
      .then((raw) => {
        const waiting = this.waiting ?? [];
        this.waiting = undefined;
        if (this.closed) {
          raw.close();
          return;
        }
        this.raw = raw;
        for (const pending of waiting) if (pending.socket === this) this.transmit(pending);
        this.settled();
      }, (error: unknown) => this.fail(error));
  }

  /** Takes a query: an ID unique on this socket, 0x20, the deadline timer; sends it once bound. */
  add(pending: Pending, useCase: boolean): void {
    const exchange = pending.exchange;
    let id = pending.fresh ? randomId() : exchange.id;
    while (this.used.has(id)) id = randomId();
    this.used.add(id);
    pending.id = id;
    pending.socket = this;
    this.pending.set(id, pending);
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
    this.pending.delete(pending.id);
    if (!moving && pending.onAbort !== undefined) pending.exchange.signal?.removeEventListener("abort", pending.onAbort);
    this.settled();
    return pending;
  }

  /** After a query left: note the time; close a retired socket with nothing in flight. */
  settled(): void {
    if (this.pending.size > 0) return;
    this.lastActive = Date.now();
    if (this.retired && this.raw !== undefined) this.close();
  }

  receive(data: Uint8Array, address: string, port: number): void {
    if (data.length < 2) return this.unmatched();
    const id = (data[0] << 8) | data[1];
    const pending = this.pending.get(id);
    if (pending === undefined) {
      // A late reply to a query that has settled means nothing; anything else is a drop.
      if (!this.used.has(id)) this.unmatched();
      return;
    }
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
      this.settle(pending, true);
      pending.fresh = true;
      poolFor(this.pool.driver, server).submit(pending, false);
      return;
    }
    this.settle(pending)?.sink.answered(response);
  }

  /** A datagram no query on this socket waits for: counted against the oldest query waiting (its resolver's stats). */
  unmatched(): void {
    for (const pending of this.pending.values()) return pending.exchange.onDropped();
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
    for (const pending of this.pending.values()) {
      if (pending.deadline <= now) {
        const exchange = pending.exchange;
        this.settle(pending)?.sink.failed(
          socketError("temporary-resolver-failure", "resolve", exchange.name, `${formatSocketAddress(exchange.server)} did not answer within ${exchange.timeoutMs} ms`),
        );
      } else if (pending.deadline < next) next = pending.deadline;
    }
    if (this.closed) return;
    if (this.pending.size === 0) {
      if (now - this.lastActive >= IDLE_CLOSE_MS) return this.close();
      next = this.lastActive + IDLE_CLOSE_MS;
    } else {
      next = Math.min(next, now + IDLE_CLOSE_MS);
    }
    this.arm(next);
  }

  /** Something failed the whole socket: every query on it fails. */
  fail(error: unknown): void {
    const queries = [...this.pending.values()];
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

/** The pools of one driver: server port → server address → pool. */
type DriverPools = Map<number, Map<string, Pool>>;

/** The sockets of one driver for one server. */
class Pool {
  readonly driver: Driver;
  readonly server: NameServer;
  readonly byAddress: Map<string, Pool>;
  active: PooledSocket | undefined;
  /** The socket bound ahead to take over from the active one (see `prepare`). */
  spare: PooledSocket | undefined;
  /** Every socket not yet closed: the active one, the spare, and the retired ones still draining. */
  readonly open = new Set<PooledSocket>();

  constructor(driver: Driver, server: NameServer, byAddress: Map<string, Pool>) {
    this.driver = driver;
    this.server = { address: server.address, port: server.port, family: server.family };
    this.byAddress = byAddress;
  }

  submit(pending: Pending, useCase: boolean): void {
    let socket = this.active;
    if (socket === undefined) {
      socket = this.spare;
      this.spare = undefined;
      if (socket === undefined) {
        socket = new PooledSocket(this, Date.now());
        this.open.add(socket);
        socket.open(this.driver, this.server);
      }
      this.active = socket;
    }
    socket.add(pending, useCase);
  }

  /** Opens the socket that takes over once the active one retires, unless there is one. */
  prepare(): void {
    if (this.spare !== undefined) return;
    const now = Date.now();
    const spare = new PooledSocket(this, now);
    this.spare = spare;
    this.open.add(spare);
    spare.open(this.driver, this.server);
    // Unused, it closes once idle like any other.
    spare.arm(now + IDLE_CLOSE_MS);
  }

  /** A socket closed; a pool left without sockets is forgotten (the next query makes a new one). */
  closed(socket: PooledSocket): void {
    if (this.spare === socket) this.spare = undefined;
    this.open.delete(socket);
    if (this.open.size === 0 && this.byAddress.get(this.server.address) === this) this.byAddress.delete(this.server.address);
  }
}

const pools = new WeakMap<Driver, DriverPools>();

function poolFor(driver: Driver, server: NameServer): Pool {
  let byPort = pools.get(driver);
  if (byPort === undefined) pools.set(driver, byPort = new Map());
  let byAddress = byPort.get(server.port);
  if (byAddress === undefined) byPort.set(server.port, byAddress = new Map());
  let pool = byAddress.get(server.address);
  if (pool === undefined) byAddress.set(server.address, pool = new Pool(driver, server, byAddress));
  return pool;
}

/**
 * Internal, for tests: how many pool sockets are open for `driver` (all servers), or
 * for `driver` and one server.
 *
 * @param driver The driver.
 * @param server Only this server's (address and port).
 * @returns The count.
 */
export function openPoolSockets(driver: Driver, server?: { address: string; port: number }): number {
  let count = 0;
  for (const [port, byAddress] of pools.get(driver) ?? []) {
    for (const [address, pool] of byAddress) {
      if (server === undefined || (server.port === port && server.address === address)) count += pool.open.size;
    }
  }
  return count;
}

/**
 * Asks over UDP from the pool. Resolves with the server's reply; rejects with
 * `temporary-resolver-failure` on timeout or a network error, or with
 * `permanent-resolver-failure` when the server's reply to our ID is malformed; with the
 * signal's reason when it aborts.
 *
 * @param exchange The question; `exchange.id` is used unless the socket already used it,
 *   then another random ID is (the reply's `id` tells which).
 * @returns The reply.
 */
export function exchangeUdp(exchange: Exchange): Promise<DecodedResponse> {
  return new Promise<DecodedResponse>((resolve, reject) => sendUdp(exchange, { answered: resolve, failed: reject }));
}

/**
 * {@linkcode exchangeUdp} without a promise: `sink` hears the reply or the failure (the
 * same as the promise would give), possibly before this returns (a send that fails at once).
 *
 * @param exchange The question (see {@linkcode exchangeUdp}).
 * @param sink Hears how it ended, once.
 *
 * @example Ask and log
 * ```ts ignore
 * import { sendUdp } from "./udp_pool.ts";
 * sendUdp(exchange, { answered: (response) => console.log(response.records), failed: console.error });
 * ```
 */
export function sendUdp(exchange: Exchange, sink: ExchangeSink): void {
  const signal = exchange.signal;
  if (signal?.aborted) return sink.failed(signal.reason);
  const pending = new Pending(exchange, sink, Date.now());
  const server = exchange.server;
  if (signal !== undefined) {
    pending.onAbort = () => pending.socket?.settle(pending)?.sink.failed(signal.reason);
    signal.addEventListener("abort", pending.onAbort, { once: true });
  }
  poolFor(exchange.driver, server).submit(pending, echoesCase(server));
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
