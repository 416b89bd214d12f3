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
 * A bind that fails (out of file descriptors, say) puts off the next spare: none is tried
 * for {@linkcode SPARE_RETRY_MIN_MS}, doubling with each failure in a row up to
 * {@linkcode SPARE_RETRY_MAX_MS}, and a bind that succeeds ends the wait. The active socket
 * meanwhile carries its queries as before; when it retires with no spare, the next query
 * binds a socket at once, and if that fails too its queries fail with a `SocketError`
 * (`temporary-resolver-failure`), as any failed socket's do.
 *
 * The sockets themselves, with the replies they accept, are in `pooled_socket.ts`; the
 * query ID and DNS 0x20 in `query_bytes.ts`.
 *
 * @module
 */
import type { Driver } from "../../core/driver.ts";
import type { NameServer } from "./config.ts";
import type { DecodedResponse } from "./packet.ts";
import { IDLE_CLOSE_MS, Pending, PooledSocket } from "./pooled_socket.ts";
import type { ExchangeSink, SocketPool } from "./pooled_socket.ts";
import { echoesCase } from "./query_bytes.ts";
import type { Exchange } from "./transport.ts";

export { DEFAULT_MAX_QUERIES_PER_SOCKET, IDLE_CLOSE_MS } from "./pooled_socket.ts";
export type { ExchangeSink } from "./pooled_socket.ts";
export { randomId, resetCaseEchoMemory } from "./query_bytes.ts";

/** How long no spare socket is tried after a failed bind; it doubles with each failure in a row. */
export const SPARE_RETRY_MIN_MS = 50;
/** The longest wait for the next spare socket after failed binds. */
export const SPARE_RETRY_MAX_MS = 2000;

/** The pools of one driver: server port → server address → pool. */
type DriverPools = Map<number, Map<string, Pool>>;

/** The sockets of one driver for one server. */
class Pool implements SocketPool {
  readonly driver: Driver;
  readonly server: NameServer;
  readonly byAddress: Map<string, Pool>;
  active: PooledSocket | undefined;
  /** The socket bound ahead to take over from the active one (see `prepare`). */
  spare: PooledSocket | undefined;
  /** Every socket not yet closed: the active one, the spare, and the retired ones still draining. */
  readonly open = new Set<PooledSocket>();
  /** Binds failed in a row, for the spare's backoff. */
  bindFailures = 0;
  /** No spare is tried before this time (`Date.now()`), after a failed bind. */
  spareAfter = 0;

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
    // A bind failed lately: the active socket carries on alone for a while.
    if (now < this.spareAfter) return;
    const spare = new PooledSocket(this, now);
    this.spare = spare;
    this.open.add(spare);
    spare.open(this.driver, this.server);
    // Unused, it closes once idle like any other.
    spare.arm(now + IDLE_CLOSE_MS);
  }

  /** A bind failed: no spare for a while (50 ms, doubling up to 2 s); a bind that succeeds ends the wait. */
  bound(ok: boolean): void {
    if (ok) {
      this.bindFailures = 0;
      this.spareAfter = 0;
      return;
    }
    this.spareAfter = Date.now() + Math.min(SPARE_RETRY_MIN_MS * 2 ** this.bindFailures, SPARE_RETRY_MAX_MS);
    this.bindFailures++;
  }

  resubmit(pending: Pending): void {
    poolFor(this.driver, this.server).submit(pending, false);
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
