/**
 * `WireResolver`: a resolver that speaks DNS itself (packets by `dns-packet`), with the
 * configuration of `/etc/resolv.conf` and `/etc/hosts` or the same given as options.
 *
 * @module
 */
import type { IpAddress } from "../../core/address.ts";
import type { Driver, LookupFamily } from "../../core/driver.ts";
import { SocketError, socketError } from "../../core/errors.ts";
import type { Resolver } from "../resolve.ts";
import { AnswerCache } from "./cache.ts";
import type { Outcome } from "./cache.ts";
import { isEncrypted, parseResolvConf, parseServer, readTextFile } from "./config.ts";
import type { EncryptedNameServer, NameServer } from "./config.ts";
import { dohChannel } from "./doh.ts";
import { dotChannel } from "./dot.ts";
import { EncryptedTransports } from "./encrypted.ts";
import { hostsFromObject, lookupHosts, parseHostsFile } from "./hosts.ts";
import type { HostsTable } from "./hosts.ts";
import { encodeQuery } from "./packet.ts";
import type { DecodedResponse, QueryType } from "./packet.ts";
import { exchangeTcp, randomId, sendUdp } from "./transport.ts";
import type { Exchange } from "./transport.ts";
import { collect, Lookup, MAX_CNAME_HOPS, Part, Query } from "./lookup.ts";
import type { Conf, Failed, PartHost, QueryHost } from "./lookup.ts";
import { orderAddresses } from "../order.ts";
import { checkWireOptions } from "./options.ts";
import type { WireResolverOptions } from "./options.ts";

const DEFAULT_CACHE_SIZE = 1000;
const MAX_BACKOFF_MS = 30_000;

/**
 * The driver of a `WireResolver` made without one. resolve/ sits below the layer that
 * picks the runtime's driver, so that layer hands it down: network/ambient.ts sets it
 * when it loads, and every public entry point loads network/ambient.ts first.
 */
let defaultDriver: Driver | undefined;

/**
 * Internal: sets the driver a `WireResolver` constructed without one uses (the
 * runtime's, set by the ambient network). A resolver given a driver keeps its own.
 *
 * @param driver The sockets to use.
 */
export function setDefaultWireDriver(driver: Driver): void {
  defaultDriver = driver;
}

/** The configuration in use: resolv.conf's, with encrypted servers possible from the options. */

interface Settings {
  conf: Conf;
  hosts: HostsTable;
}

/** Counters of what a `WireResolver` did, for tests and monitoring. */
export interface WireResolverStats {
  /** Queries sent over UDP. */
  udpQueries: number;
  /** Queries sent over TCP (after truncation). */
  tcpQueries: number;
  /** Datagrams or frames dropped: wrong source, ID or question. */
  dropped: number;
  /** Answers taken from the cache. */
  cacheHits: number;
}

/**
 * A resolver that speaks DNS itself: A and AAAA in parallel over UDP with EDNS0,
 * retries, TCP when truncated, CNAME chains within the answer, a TTL cache, and
 * replies accepted only from the server asked with the query's random ID and question.
 *
 * Servers written `tls://HOST[:PORT][#NAME]` are asked over DNS over TLS (RFC 7858) and
 * `https://HOST[:PORT]/PATH[#NAME]` over DNS over HTTPS (RFC 8484, HTTP/2): one connection
 * per server, reused by every query and closed after 1 s with nothing in flight (or by
 * {@linkcode WireResolver.close}), queries padded to 128 octets, never in plaintext.
 *
 * @example Ask a local DNS server
 * ```ts ignore
 * import { resolveAddresses, WireResolver } from "../mod.ts";
 * const resolver = new WireResolver({ nameservers: ["127.0.0.1:5353"], hosts: {} });
 * console.log(await resolveAddresses("db.test", { resolver }));
 * ```
 *
 * @example DNS over TLS, then DNS over HTTPS, trusting a private CA
 * ```ts ignore
 * import { resolveAddresses, WireResolver } from "../mod.ts";
 * await using resolver = new WireResolver({
 *   nameservers: ["tls://192.0.2.53#dns.example", "https://192.0.2.53/dns-query#dns.example"],
 *   ca: await Deno.readTextFile("ca.pem"),
 * });
 * console.log(await resolveAddresses("db.example", { resolver }));
 * ```
 */
export class WireResolver implements Resolver {
  /** What it did so far. */
  readonly stats: WireResolverStats = { udpQueries: 0, tcpQueries: 0, dropped: 0, cacheHits: 0 };
  readonly #options: WireResolverOptions;
  readonly #driver: Driver | undefined;
  readonly #cache: AnswerCache<Query>;
  #settings: Promise<Settings> | undefined;
  /** The settings once loaded: lookups then start without waiting a turn. */
  #loaded: Settings | undefined;
  readonly #capacity: number;
  readonly #onDropped = (): void => void this.stats.dropped++;
  #nextServer = 0;
  #encrypted: EncryptedTransports | undefined;
  /** Final answers in connection order, by family and name, until their first record expires. */
  readonly #answers = new Map<string, { addresses: IpAddress[]; expires: number }>();

  /**
   * Makes a resolver. Options not given come from `/etc/resolv.conf` and `/etc/hosts`,
   * read on first use.
   *
   * @param options `nameservers`, `hosts`, `search`, `ndots`, `timeout`, `attempts`, `rotate`, `cacheSize`, `ca`.
   * @param driver Internal: the sockets to use (the runtime's by default).
   */
  constructor(options: WireResolverOptions = {}, driver?: Driver) {
    this.#options = checkWireOptions(options);
    this.#driver = driver;
    this.#capacity = this.#options.cacheSize ?? DEFAULT_CACHE_SIZE;
    this.#cache = new AnswerCache<Query>(this.#capacity);
  }

  /**
   * Closes the connections to `tls://` and `https://` servers now, instead of after their
   * idle second. The resolver stays usable: a later query opens a new connection.
   *
   * @returns Resolves once the connections are released.
   */
  close(): Promise<void> {
    return this.#encrypted?.close() ?? Promise.resolve();
  }

  /** {@linkcode WireResolver.close}, for `await using resolver = new WireResolver(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Forgets every cached answer. */
  clearCache(): void {
    this.#cache.clear();
    this.#answers.clear();
  }

  /**
   * The answer for `name` if it is cached and fresh, in connection order, without
   * waiting: the fast path of `resolveAddresses`.
   *
   * @param name The name (checked, lower-case ASCII).
   * @param family Which families.
   * @returns The addresses, or undefined when a query would be needed.
   */
  resolveCached(name: string, family: LookupFamily): IpAddress[] | undefined {
    const entry = this.#answers.get(`${family} ${name}`);
    if (entry === undefined) return undefined;
    if (entry.expires > Date.now()) return entry.addresses.slice();
    this.#answers.delete(`${family} ${name}`);
    return undefined;
  }

  /**
   * Looks up `name` (checked, lower-case ASCII): the hosts table, then DNS through the
   * search list.
   *
   * @param name The name.
   * @param family Which families.
   * @param signal Aborts waiting (a query shared with other callers runs on).
   * @returns The addresses; empty when the name has none.
   */
  resolve(name: string, family: LookupFamily, signal?: AbortSignal): Promise<IpAddress[]> {
    const loaded = this.#loaded;
    if (loaded !== undefined) return this.#resolveWith(loaded, name, family, signal);
    return this.#load().then((settings) => this.#resolveWith(settings, name, family, signal));
  }

  #resolveWith(settings: Settings, name: string, family: LookupFamily, signal: AbortSignal | undefined): Promise<IpAddress[]> {
    try {
      const fromHosts = lookupHosts(settings.hosts, name, family);
      if (fromHosts.length > 0) {
        this.#remember(name, family, fromHosts, Number.POSITIVE_INFINITY);
        return Promise.resolve(fromHosts);
      }
      const conf = settings.conf;
      if (conf.search.length > 0) return this.#resolveSearching(conf, name, family, signal);
      // No search list: the name alone, without an async function's frame; the lookup's
      // promise settles with the addresses (no promise step after it).
      const used: string[] | undefined = this.#capacity === 0 ? undefined : [];
      return this.#lookups(name, family, conf, signal, used, this.#addresses);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The addresses of a lookup without a search list, from its parts' outcomes (a throw rejects it). */
  readonly #addresses = (lookup: Lookup<IpAddress[]>): IpAddress[] => {
    const signal = lookup.given;
    if (signal?.aborted) throw signal.reason;
    const outcomes = lookup.results as (Outcome | Failed)[];
    // The parts' addresses in order, in an array of their size (concat, or a copy of the one
    // list: the lists belong to the cache).
    let found: IpAddress[] | undefined;
    let copied = false;
    let failure: SocketError | undefined;
    for (let i = 0; i < outcomes.length; i++) {
      const outcome = outcomes[i];
      if (!("kind" in outcome)) {
        if (!(outcome.error instanceof SocketError)) throw outcome.error;
        failure ??= outcome.error;
      } else if (outcome.kind === "addresses") {
        copied = found !== undefined;
        found = found === undefined ? outcome.addresses : found.concat(outcome.addresses);
      }
    }
    const addresses = found === undefined ? [] : copied ? found : found.slice();
    if (addresses.length > 0) {
      const used = lookup.used;
      if (used !== undefined) this.#remember(lookup.name, lookup.family, addresses, this.#expiry(used));
      return addresses;
    }
    if (failure !== undefined) throw failure;
    return addresses;
  };

  /** A lookup's parts' outcomes as they are (for the search list). */
  readonly #outcomes = (lookup: Lookup<(Outcome | Failed)[]>): (Outcome | Failed)[] => lookup.results as (Outcome | Failed)[];

  /** Through the search list: the first candidate with addresses wins. */
  async #resolveSearching(conf: Conf, name: string, family: LookupFamily, signal: AbortSignal | undefined): Promise<IpAddress[]> {
    let failure: SocketError | undefined;
    for (const candidate of candidates(name, conf)) {
      // The keys of the cache entries the answer is built from: only needed to cache the answer.
      const used: string[] | undefined = this.#capacity === 0 ? undefined : [];
      const outcomes = await this.#lookups(candidate, family, conf, signal, used, this.#outcomes);
      if (signal?.aborted) throw signal.reason;
      const addresses: IpAddress[] = [];
      let nxdomain = false;
      for (const outcome of outcomes) {
        const failed = collect(outcome, addresses);
        if (failed !== undefined) failure ??= failed;
        else if ("kind" in outcome && outcome.kind === "nxdomain") nxdomain = true;
      }
      if (addresses.length > 0) {
        if (used !== undefined) this.#remember(name, family, addresses, this.#expiry(used));
        return addresses;
      }
      if (!nxdomain && failure !== undefined) throw failure;
    }
    if (failure !== undefined) throw failure;
    return [];
  }

  /**
   * AAAA and A (or the one family asked for) in parallel, each settled to its outcome or
   * error (the signal's reason for those it aborted): one promise for the whole lookup, with
   * what `finish` makes of the outcomes; the queries call back.
   */
  #lookups<T>(
    name: string,
    family: LookupFamily,
    conf: Conf,
    signal: AbortSignal | undefined,
    used: string[] | undefined,
    finish: (lookup: Lookup<T>) => T,
  ): Promise<T> {
    const lookup = new Lookup(this.#parts, conf, name, family, signal, used, finish);
    if (family === "any") {
      this.#part(new Part(lookup, 0, "AAAA", name));
      this.#part(new Part(lookup, 1, "A", name));
    } else {
      this.#part(new Part(lookup, 0, family === "ipv4" ? "A" : "AAAA", name));
    }
    lookup.watch(signal);
    return lookup.promise;
  }

  /** The earliest expiry of the cache entries an answer was built from; 0 when one is not cached. */
  #expiry(keys: string[]): number {
    let expires = Number.POSITIVE_INFINITY;
    for (const key of keys) expires = Math.min(expires, this.#cache.expiresAt(key) ?? 0);
    return expires;
  }

  #remember(name: string, family: LookupFamily, addresses: IpAddress[], expires: number): void {
    const capacity = this.#capacity;
    if (capacity === 0 || !(expires > Date.now())) return;
    const key = `${family} ${name}`;
    this.#answers.delete(key);
    this.#answers.set(key, { addresses: orderAddresses(addresses, family), expires });
    if (this.#answers.size > capacity) this.#answers.delete(this.#answers.keys().next().value as string);
  }

  #load(): Promise<Settings> {
    this.#settings ??= loadSettings(this.#options).then((settings) => (this.#loaded = settings));
    return this.#settings;
  }

  /** Asks for `part`'s current name: from the cache, the query in flight for it, or a new query. */
  #part(part: Part): void {
    const type = part.type;
    const name = part.owner;
    part.lookup.used?.push(`${type} ${name}`);
    const cached = this.#capacity === 0 ? undefined : this.#cache.get(`${type} ${name}`);
    if (cached !== undefined) {
      this.stats.cacheHits++;
      return part.got(cached);
    }
    const running = this.#cache.running(type, name);
    if (running !== undefined) {
      running.wait(part);
      return;
    }
    const conf = part.lookup.conf;
    const query = new Query(this.#queries, name, type, conf, this.#serverOrder(conf), part);
    this.#cache.start(type, name, query);
    this.#attempt(query);
  }

  /** What a lookup's parts call back into: the next hop of a CNAME chain. */
  readonly #parts: PartHost = { ask: (part) => this.#part(part) };

  /** How the queries of this resolver go on: what the pool and the other transports call back. */
  readonly #queries: QueryHost = {
    answered: (query, response) => this.#answered(query, response),
    failed: (query, error) => this.#failed(query, error),
    dropped: this.#onDropped,
  };

  /**
   * Asks `query.servers[query.index]` in attempt `query.attempt`; on a failure the next
   * server, then the next attempt with a doubled timeout; fails with the last failure once
   * all are done. One promise for the whole query, settled by `#finish`; the UDP pool calls
   * the query back (no promise per datagram).
   */
  #attempt(query: Query): void {
    const servers = query.servers;
    const conf = query.conf;
    if (query.index >= servers.length) {
      query.attempt++;
      query.index = 0;
    }
    if (query.attempt >= conf.attempts || servers.length === 0) {
      return this.#finish(query, undefined, query.failure ?? socketError("temporary-resolver-failure", "resolve", query.name, "no name server to ask"));
    }
    const timeoutMs = Math.min(conf.timeoutMs * 2 ** query.attempt, MAX_BACKOFF_MS);
    const server = servers[query.index];
    const name = query.name;
    const type = query.type;
    query.overUdp = false;
    try {
      if (isEncrypted(server)) {
        // Never in plaintext: a failure here moves on to the next server, as for UDP.
        this.#encrypted ??= new EncryptedTransports(() => this.#sockets(), caList(this.#options.ca), { tls: dotChannel, https: dohChannel });
        this.#encrypted.exchange(server, { name, type, timeoutMs, onDropped: this.#onDropped })
          .then((response) => this.#interpret(query, response), (error: unknown) => this.#failed(query, error));
        return;
      }
      // The query is its own UDP exchange (no object per ask).
      const id = randomId();
      query.driver = this.#sockets();
      query.server = server;
      query.id = id;
      query.message = encodeQuery(id, name, type, conf.edns0);
      query.timeoutMs = timeoutMs;
      query.maxQueriesPerSocket = this.#options.maxQueriesPerSocket;
    } catch (error) {
      return this.#failed(query, error);
    }
    query.overUdp = true;
    this.stats.udpQueries++;
    // Possibly answered at once, for a send that failed: nothing after this.
    sendUdp(query, query);
  }

  /** A UDP reply: asked again over TCP when truncated. */
  #answered(query: Query, response: DecodedResponse): void {
    if (!response.truncated || !query.overUdp) return this.#interpret(query, response);
    this.#overTcp(query, query.conf).then((answer) => this.#interpret(query, answer), (error: unknown) => this.#failed(query, error));
  }

  /** What a reply means: the query's outcome (cached), or on to the next server on a failure. */
  #interpret(query: Query, response: DecodedResponse): void {
    const outcome = interpret(response, query.name, query.type);
    if (outcome instanceof SocketError) return this.#next(query, outcome);
    if (this.#capacity !== 0) this.#cache.set(`${query.type} ${query.name}`, outcome, interpretedTtl);
    this.#finish(query, outcome, undefined);
  }

  /** No reply: a `SocketError` moves on to the next server; anything else fails the query. */
  #failed(query: Query, error: unknown): void {
    if (!(error instanceof SocketError)) return this.#finish(query, undefined, error);
    this.#next(query, error);
  }

  #next(query: Query, failure: SocketError): void {
    query.failure = failure;
    query.index++;
    this.#attempt(query);
  }

  /** Settles the query's promise; it is no longer in flight, so the next caller asks again (or the cache answers). */
  #finish(query: Query, outcome: Outcome | undefined, error: unknown): void {
    this.#cache.done(query.type, query.name, query);
    const waiters = query.waiters;
    if (!Array.isArray(waiters)) return outcome !== undefined ? waiters.got(outcome) : waiters.lost(error);
    for (const part of waiters) outcome !== undefined ? part.got(outcome) : part.lost(error);
  }

  /** Asks again over TCP after a truncated UDP answer. */
  #overTcp(exchange: Exchange, conf: Conf): Promise<DecodedResponse> {
    this.stats.tcpQueries++;
    const tcpId = randomId();
    return exchangeTcp({
      driver: exchange.driver,
      server: exchange.server,
      id: tcpId,
      name: exchange.name,
      type: exchange.type,
      message: encodeQuery(tcpId, exchange.name, exchange.type, conf.edns0),
      timeoutMs: exchange.timeoutMs,
      signal: exchange.signal,
      onDropped: this.#onDropped,
      maxQueriesPerSocket: exchange.maxQueriesPerSocket,
      ownMessage: false,
    });
  }

  /** The driver given, else the default (the runtime's), looked up when first needed. */
  #sockets(): Driver {
    const driver = this.#driver ?? defaultDriver;
    // Only reachable by importing this file alone, never through an entry point; not a SocketError, so no retry hides it.
    if (driver === undefined) throw new Error("WireResolver: no driver given and no default set (load network/ambient.ts)");
    return driver;
  }

  #serverOrder(conf: Conf): (NameServer | EncryptedNameServer)[] {
    const servers = conf.nameservers;
    if (!conf.rotate || servers.length < 2) return servers;
    const start = this.#nextServer++ % servers.length;
    return [...servers.slice(start), ...servers.slice(0, start)];
  }
}

/** Names to try, in order, per the search list and `ndots` (resolv.conf(5)). */
function candidates(name: string, conf: Conf): string[] {
  if (conf.search.length === 0) return [name];
  const searched = conf.search.map((domain) => `${name}.${domain}`).filter((n) => n.length <= 253);
  const dots = name.split(".").length - 1;
  return dots >= conf.ndots ? [name, ...searched] : [...searched, name];
}

/** The TTL (seconds) of the outcome the last {@linkcode interpret} gave: no object to hold both. */
let interpretedTtl = 0;

/**
 * What a reply means for (name, type): addresses through the CNAME chain, NXDOMAIN or
 * NODATA, with its TTL in `interpretedTtl`; or the failure.
 */
function interpret(response: DecodedResponse, name: string, type: QueryType): Outcome | SocketError {
  switch (response.rcode) {
    case "NOERROR":
      break;
    case "NXDOMAIN":
      interpretedTtl = response.negativeTtl ?? 0;
      return { kind: "nxdomain" };
    case "SERVFAIL":
      return socketError("temporary-resolver-failure", "resolve", name, "the server answered SERVFAIL");
    default:
      return socketError("permanent-resolver-failure", "resolve", name, `the server answered ${response.rcode}`);
  }
  let owner = name;
  let ttl = Number.POSITIVE_INFINITY;
  const records = response.records;
  for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
    let addresses: IpAddress[] | undefined;
    let addressTtl = ttl;
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      if (record.name !== owner || record.type !== type) continue;
      // A literal for the first: an array grown by push from empty holds 17.
      if (addresses === undefined) addresses = [record.data];
      else addresses.push(record.data);
      if (record.ttl < addressTtl) addressTtl = record.ttl;
    }
    if (addresses !== undefined) {
      interpretedTtl = addressTtl;
      return { kind: "addresses", addresses };
    }
    const alias = records.find((r) => r.name === owner && r.type === "CNAME");
    if (alias === undefined) break;
    ttl = Math.min(ttl, alias.ttl);
    owner = alias.data;
  }
  if (owner !== name && response.negativeTtl === undefined) {
    // A chain that stops at a name the answer says nothing more of: ask for that name.
    interpretedTtl = ttl;
    return { kind: "alias", target: owner };
  }
  interpretedTtl = response.negativeTtl ?? 0;
  return { kind: "nodata" };
}

async function loadSettings(options: WireResolverOptions): Promise<Settings> {
  const needsConf = options.nameservers === undefined || options.search === undefined || options.ndots === undefined ||
    options.timeout === undefined || options.attempts === undefined || options.rotate === undefined;
  const base = parseResolvConf(needsConf ? (await readTextFile("/etc/resolv.conf")) ?? "" : "");
  const conf: Conf = {
    nameservers: options.nameservers?.map(parseServer) ?? base.nameservers,
    search: options.search ?? base.search,
    ndots: options.ndots ?? base.ndots,
    timeoutMs: options.timeout ?? base.timeoutMs,
    attempts: options.attempts ?? base.attempts,
    rotate: options.rotate ?? base.rotate,
    edns0: true,
  };
  const hosts = options.hosts;
  if (hosts === undefined || typeof hosts === "string") {
    const path = hosts ?? "/etc/hosts";
    const text = await readTextFile(path);
    if (text === undefined && hosts !== undefined) {
      throw socketError("invalid-argument", "WireResolver", path, "cannot read the hosts file");
    }
    return { conf, hosts: parseHostsFile(text ?? "") };
  }
  return { conf, hosts: hostsFromObject(hosts) };
}

function caList(ca: string | string[] | undefined): string[] | undefined {
  return ca === undefined ? undefined : Array.isArray(ca) ? [...ca] : [ca];
}
