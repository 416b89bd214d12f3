/**
 * The wire resolver's cache: answers per (name, type), kept for their TTL (negative
 * answers for the SOA minimum, RFC 2308), at most `capacity` entries, least recently
 * used out first; and the queries in flight, so that two callers share one query.
 *
 * @module
 */
import type { IpAddress } from "../../core/address.ts";

/** What one (name, type) query came to. */
export type Outcome =
  | { kind: "addresses"; addresses: IpAddress[] }
  | { kind: "nxdomain" }
  | { kind: "nodata" }
  /** The answer ended in a CNAME whose target the server did not answer for: ask for the target. */
  | { kind: "alias"; target: string };

interface Entry {
  outcome: Outcome;
  expires: number;
}

/** See the module doc; `Q` is what stands for a query in flight. */
export class AnswerCache<Q> {
  readonly #entries = new Map<string, Entry>();
  /** Queries in flight by type, then name (no key to build per query). */
  readonly #inFlight = new Map<string, Map<string, Q>>();
  readonly #capacity: number;
  readonly #now: () => number;

  /**
   * @param capacity The most entries kept; 0 turns caching off.
   * @param now The clock, in ms (tests may pass their own).
   */
  constructor(capacity: number, now: () => number = Date.now) {
    this.#capacity = capacity;
    this.#now = now;
  }

  /** The cached outcome, if still fresh. */
  get(key: string): Outcome | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    // Refresh its place in the LRU order.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.outcome;
  }

  /** When the entry for `key` expires (ms since the epoch), if it is cached and fresh. */
  expiresAt(key: string): number | undefined {
    const entry = this.#entries.get(key);
    return entry !== undefined && entry.expires > this.#now() ? entry.expires : undefined;
  }

  /** Keeps `outcome` for `ttlSeconds` (nothing is kept for 0). */
  set(key: string, outcome: Outcome, ttlSeconds: number): void {
    if (this.#capacity === 0 || !(ttlSeconds > 0)) return;
    this.#entries.delete(key);
    this.#entries.set(key, { outcome, expires: this.#now() + ttlSeconds * 1000 });
    while (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  /** The query for (`type`, `name`) in flight, if any: to share instead of asking again. */
  running(type: string, name: string): Q | undefined {
    return this.#inFlight.get(type)?.get(name);
  }

  /** Notes `query` as the one in flight for (`type`, `name`), until {@linkcode AnswerCache.done}. */
  start(type: string, name: string, query: Q): void {
    let byName = this.#inFlight.get(type);
    if (byName === undefined) this.#inFlight.set(type, byName = new Map());
    byName.set(name, query);
  }

  /** `query` for (`type`, `name`) has settled (or is about to): it is no longer shared. */
  done(type: string, name: string, query: Q): void {
    const byName = this.#inFlight.get(type);
    if (byName?.get(name) === query) byName.delete(name);
  }

  /** How many entries are cached. */
  get size(): number {
    return this.#entries.size;
  }

  /** Forgets every cached answer. */
  clear(): void {
    this.#entries.clear();
  }
}
