/**
 * The state of `WireResolver`'s lookups in flight, with no promise per query: a `Lookup`
 * (one promise for the caller) has a `Part` per type asked (AAAA, A), each following its
 * CNAME chain; a `Query` is one question (name, type) in flight through the servers, shared
 * by every part that asks it, and is what the UDP pool and the other transports call back.
 *
 * @module
 */
import type { IpAddress } from "../../core/address.ts";
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
}

/**
 * One question (name, type) in flight, through the servers and attempts: what the UDP
 * pool answers to. Its outcome goes to every part waiting for it (callers share a query).
 */
export class Query implements ExchangeSink {
  readonly host: QueryHost;
  readonly name: string;
  readonly type: QueryType;
  readonly conf: Conf;
  readonly servers: (NameServer | EncryptedNameServer)[];
  attempt = 0;
  index = 0;
  failure: SocketError | undefined = undefined;
  /** The UDP exchange of the current ask (for TCP after truncation); undefined for the encrypted transports. */
  exchange: Exchange | undefined = undefined;
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
}

/** What a `Part` calls back into: its resolver. */
export interface PartHost {
  /** Asks for the part's current name (`owner`). */
  ask(part: Part): void;
}

/** A lookup's question for one type: the name, then each CNAME target the server left dangling. */
export class Part {
  readonly lookup: Lookup;
  readonly index: number;
  readonly type: QueryType;
  /** The name looked up. */
  readonly name: string;
  /** The name asked for now. */
  owner: string;
  hops = 0;

  constructor(lookup: Lookup, index: number, type: QueryType, name: string) {
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

/** One lookup of `WireResolver`: its parts' outcomes or errors, in part order, once all are in (or the signal aborted). */
export class Lookup {
  readonly host: PartHost;
  readonly conf: Conf;
  /** The cache keys the answer is built from; undefined when the answer is not cached. */
  readonly used: string[] | undefined;
  readonly results: (Outcome | Failed | undefined)[];
  left: number;
  readonly promise: Promise<(Outcome | Failed)[]>;
  resolve!: (results: (Outcome | Failed)[]) => void;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;

  constructor(host: PartHost, conf: Conf, used: string[] | undefined, parts: number) {
    this.host = host;
    this.conf = conf;
    this.used = used;
    this.results = parts === 2 ? [undefined, undefined] : [undefined];
    this.left = parts;
    this.promise = new Promise((resolve) => (this.resolve = resolve));
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
    this.resolve(this.results as (Outcome | Failed)[]);
  }
}
