/**
 * The state of `WireResolver`'s lookups in flight, with no promise per query: a `Lookup`
 * (one promise for the caller) has a `Part` per type asked (AAAA, A), each following its
 * CNAME chain; a `Query` is one question (name, type) in flight through the servers, shared
 * by every part that asks it, and is what the UDP pool and the other transports call back.
 *
 * @module
 */
import type { IpAddress } from "../../core/address.ts";
import type { Driver, LookupFamily } from "../../core/driver.ts";
import { SocketError, socketError } from "../../core/errors.ts";
import type { Outcome } from "./cache.ts";
import type { EncryptedNameServer, NameServer, ResolvConf } from "./config.ts";
import type { DecodedResponse, QueryType } from "./packet.ts";
import type { Exchange, ExchangeSink } from "./transport.ts";

/** The longest CNAME chain followed. */
export const MAX_CNAME_HOPS = 8;

/** A resolver configuration with its name servers parsed. */
export type Conf = ResolvConf<NameServer | EncryptedNameServer>;

/** A part's error, as a `Lookup` gives it. */
export interface Failed {
  error: unknown;
}

/** Adds the addresses of `outcome` to `addresses`; the error when it failed with a `SocketError` (others are thrown). */
export function collect(outcome: Outcome | Failed, addresses: IpAddress[]): SocketError | undefined {
  if ("kind" in outcome) {
    if (outcome.kind === "addresses") {
      const found = outcome.addresses;
      for (let i = 0; i < found.length; i++) addresses.push(found[i]);
    }
    return undefined;
  }
  if (!(outcome.error instanceof SocketError)) throw outcome.error;
  return outcome.error;
}

/** What a `Query` calls back into: its resolver. */
export interface QueryHost {
  answered(query: Query, response: DecodedResponse): void;
  failed(query: Query, error: unknown): void;
  /** Counts a dropped datagram or frame. */
  dropped(): void;
}

/**
 * One question (name, type) in flight, through the servers and attempts: what the UDP
 * pool answers to, and, over UDP, the exchange of the current ask itself (its server, ID
 * and message set for each ask). Its outcome goes to every part waiting for it (callers
 * share a query).
 */
export class Query implements ExchangeSink, Exchange {
  readonly host: QueryHost;
  readonly name: string;
  readonly type: QueryType;
  readonly conf: Conf;
  readonly servers: (NameServer | EncryptedNameServer)[];
  attempt = 0;
  index = 0;
  failure: SocketError | undefined = undefined;
  /** Whether the current ask went over UDP (the exchange fields below are its): TCP after truncation. */
  overUdp = false;
  driver!: Driver;
  server!: NameServer;
  id = 0;
  message: Uint8Array = EMPTY;
  timeoutMs = 0;
  readonly signal: AbortSignal | undefined = undefined;
  maxQueriesPerSocket: number | undefined = undefined;
  readonly ownMessage = true;
  /** Who waits for the outcome: one part, or several sharing the query. */
  waiters: Part | Part[];

  constructor(host: QueryHost, name: string, type: QueryType, conf: Conf, servers: (NameServer | EncryptedNameServer)[], first: Part) {
    this.host = host;
    this.name = name;
    this.type = type;
    this.conf = conf;
    this.servers = servers;
    this.waiters = first;
  }

  wait(part: Part): void {
    const waiters = this.waiters;
    if (Array.isArray(waiters)) waiters.push(part);
    else this.waiters = [waiters, part];
  }

  answered(response: DecodedResponse): void {
    this.host.answered(this, response);
  }

  failed(error: unknown): void {
    this.host.failed(this, error);
  }

  onDropped(): void {
    this.host.dropped();
  }
}

const EMPTY = new Uint8Array(0);

/** What a `Part` calls back into: its resolver. */
export interface PartHost {
  /** Asks for the part's current name (`owner`). */
  ask(part: Part): void;
}

/** What a `Part` needs of its `Lookup` (whatever the lookup's promise gives). */
export interface LookupState {
  readonly host: PartHost;
  readonly conf: Conf;
  readonly used: string[] | undefined;
  readonly results: readonly (Outcome | Failed | undefined)[];
  settle(index: number, result: Outcome | Failed): void;
}

/** A lookup's question for one type: the name, then each CNAME target the server left dangling. */
export class Part {
  readonly lookup: LookupState;
  readonly index: number;
  readonly type: QueryType;
  /** The name looked up. */
  readonly name: string;
  /** The name asked for now. */
  owner: string;
  hops = 0;

  constructor(lookup: LookupState, index: number, type: QueryType, name: string) {
    this.lookup = lookup;
    this.index = index;
    this.type = type;
    this.name = name;
    this.owner = name;
  }

  got(outcome: Outcome): void {
    if (outcome.kind !== "alias") return this.lookup.settle(this.index, outcome);
    // Aborted meanwhile: the chain stops here.
    if (this.lookup.results[this.index] !== undefined) return;
    if (this.hops === MAX_CNAME_HOPS) {
      return this.lost(socketError("permanent-resolver-failure", "resolve", this.name, `CNAME chain longer than ${MAX_CNAME_HOPS}`));
    }
    this.hops++;
    this.owner = outcome.target;
    this.lookup.host.ask(this);
  }

  lost(error: unknown): void {
    this.lookup.settle(this.index, { error });
  }
}

/**
 * One lookup of `WireResolver`: its parts' outcomes or errors, in part order, once all are in
 * (or the signal aborted), turned by `finish` into what its promise settles with (a throw
 * rejects it), with no promise step in between.
 */
export class Lookup<T> implements LookupState {
  readonly host: PartHost;
  readonly conf: Conf;
  /** The name looked up (for `finish`). */
  readonly name: string;
  /** Which families (for `finish`). */
  readonly family: LookupFamily;
  /** The cache keys the answer is built from; undefined when the answer is not cached. */
  readonly used: string[] | undefined;
  readonly results: (Outcome | Failed | undefined)[];
  left: number;
  readonly finish: (lookup: Lookup<T>) => T;
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  reject!: (error: unknown) => void;
  /** The signal given (aborted or not), for `finish`. */
  readonly given: AbortSignal | undefined;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;

  constructor(
    host: PartHost,
    conf: Conf,
    name: string,
    family: LookupFamily,
    given: AbortSignal | undefined,
    used: string[] | undefined,
    finish: (lookup: Lookup<T>) => T,
  ) {
    this.host = host;
    this.conf = conf;
    this.name = name;
    this.family = family;
    this.given = given;
    this.used = used;
    this.finish = finish;
    this.results = family === "any" ? [undefined, undefined] : [undefined];
    this.left = this.results.length;
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** Parts not yet in when `signal` aborts end with its reason. */
  watch(signal: AbortSignal | undefined): void {
    if (signal === undefined || this.left === 0) return;
    if (signal.aborted) return this.abort(signal.reason);
    this.signal = signal;
    this.onAbort = () => this.abort(signal.reason);
    signal.addEventListener("abort", this.onAbort, { once: true });
  }

  abort(reason: unknown): void {
    const results = this.results;
    for (let i = 0; i < results.length; i++) if (results[i] === undefined) this.settle(i, { error: reason });
  }

  settle(index: number, result: Outcome | Failed): void {
    if (this.results[index] !== undefined) return;
    this.results[index] = result;
    if (--this.left !== 0) return;
    if (this.onAbort !== undefined) this.signal?.removeEventListener("abort", this.onAbort);
    let value: T;
    try {
      value = this.finish(this);
    } catch (error) {
      return this.reject(error);
    }
    this.resolve(value);
  }
}
