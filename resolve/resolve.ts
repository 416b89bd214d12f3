/**
 * `resolveAddresses` over a driver: literals and `localhost` without a query, name checks,
 * then the chosen resolver, with the answers put in connection order.
 *
 * @module
 */
import { parseIp } from "../core/address.ts";
import type { IpAddress } from "../core/address.ts";
import { checkSignal, checkTimeout, deadline } from "../core/abort.ts";
import type { LookupFamily } from "../core/driver.ts";
import { socketError } from "../core/errors.ts";
import { isLocalhostName, normalizeName, plainName } from "./names.ts";
import { orderAddresses } from "./order.ts";

/**
 * A resolver: names in, addresses out. Pass one as the `resolver` option.
 *
 * @example A fixed table
 * ```ts
 * import type { Resolver } from "./resolve.ts";
 * const table: Resolver = {
 *   resolve: (name) => Promise.resolve(name === "db.test" ? ["203.0.113.5"] : []),
 * };
 * console.log(typeof table.resolve);
 * ```
 */
export interface Resolver {
  /**
   * Looks `name` up (already checked, lower-case ASCII, no trailing dot).
   *
   * @param name The name.
   * @param family Which families to ask for.
   * @param signal Aborts the lookup.
   * @returns The addresses; an empty list means the name has none.
   */
  resolve(name: string, family: LookupFamily, signal?: AbortSignal): Promise<IpAddress[]>;
  /**
   * Optional: the answer at once when it is cached and fresh (in connection order),
   * or undefined. `resolveAddresses` asks this first.
   *
   * @param name The name (checked, lower-case ASCII).
   * @param family Which families.
   * @returns The addresses, or undefined.
   */
  resolveCached?(name: string, family: LookupFamily): IpAddress[] | undefined;
}

/**
 * Options of `resolveAddresses`.
 *
 * @example Using `ResolveOptions`
 * ```ts
 * import type { ResolveOptions } from "./resolve.ts";
 * const options: ResolveOptions = { family: "ipv4", timeout: 2000 };
 * console.log(options.family);
 * ```
 */
export interface ResolveOptions {
  /** `ipv4`, `ipv6` or `any` (the default). */
  family?: LookupFamily;
  /** Aborts the lookup; it rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Milliseconds before it fails with `temporary-resolver-failure`. */
  timeout?: number;
  /** `system` (the default: the runtime's own), `wire` (a `WireResolver` with the system's configuration), or a `Resolver`. */
  resolver?: "system" | "wire" | Resolver;
}

const LOOPBACK = ["::1", "127.0.0.1"];

/** The resolvers a network offers by name. */
export interface NamedResolvers {
  system: Resolver;
  wire: () => Resolver;
}

/**
 * Resolves `name` with the resolver the options name (`system` by default).
 *
 * @returns The addresses, never empty.
 */
export function resolveName(
  resolvers: NamedResolvers,
  name: string,
  options: ResolveOptions = {},
): Promise<IpAddress[]> {
  let checked: Checked;
  try {
    checked = checkOptions(resolvers, options);
    // Fast path: a name that was looked up before, answered from the resolver's cache.
    const ascii = typeof name === "string" ? LOOKED_UP.get(name) : undefined;
    const hit = ascii === undefined ? undefined : checked.resolver.resolveCached?.(ascii, checked.family);
    if (hit !== undefined && hit.length > 0) return Promise.resolve(hit);
  } catch (error) {
    return Promise.reject(error);
  }
  return resolveSlowly(name, checked);
}

interface Checked {
  family: LookupFamily;
  signal: AbortSignal | undefined;
  timeout: number | undefined;
  resolver: Resolver;
}

function checkOptions(resolvers: NamedResolvers, options: ResolveOptions): Checked {
  if (typeof options !== "object" || options === null) {
    throw socketError("invalid-argument", "resolve", "", "options must be an object");
  }
  return {
    family: checkFamily(options.family),
    signal: checkSignal(options.signal, "resolve"),
    timeout: checkTimeout(options.timeout, "resolve"),
    resolver: pickResolver(resolvers, options.resolver),
  };
}

/** Names as given → their checked ASCII form, for names that went to a resolver. Bounded. */
const LOOKED_UP = new Map<string, string>();
const LOOKED_UP_MAX = 4096;

function resolveSlowly(name: string, checked: Checked): Promise<IpAddress[]> {
  const { family, signal, timeout, resolver } = checked;
  let ascii: string;
  try {
    // The usual name (LDH labels) in one pass: neither an IP literal nor anything to convert.
    const plain = typeof name === "string" ? plainName(name) : undefined;
    if (plain !== undefined) {
      ascii = plain;
    } else {
      if (typeof name === "string") {
        const literal = parseIp(name);
        if (literal !== undefined) return Promise.resolve(orderAddresses([literal.address], "any"));
      }
      ascii = normalizeName(name, "resolve");
    }
    if (isLocalhostName(ascii)) return Promise.resolve(nonEmpty(orderAddresses(LOOPBACK, family), ascii, family));
  } catch (error) {
    return Promise.reject(error);
  }
  if (LOOKED_UP.size >= LOOKED_UP_MAX) LOOKED_UP.clear();
  LOOKED_UP.set(name, ascii);
  if (signal !== undefined || timeout !== undefined) return resolveWithin(ascii, checked);
  // Nothing to race: the resolver's answer, in connection order.
  let answers: Promise<IpAddress[]>;
  try {
    answers = Promise.resolve(resolver.resolve(ascii, family, undefined));
  } catch (error) {
    return Promise.reject(error);
  }
  return answers.then((found) => nonEmpty(orderAddresses(found, family), ascii, family));
}

/** The lookup of a checked name under a signal or a timeout. */
async function resolveWithin(ascii: string, { family, signal, timeout, resolver }: Checked): Promise<IpAddress[]> {
  const operation = "resolve";
  // The contract counts a resolver that does not answer in time as a temporary failure.
  const limit = deadline(signal, timeout, operation, ascii, "temporary-resolver-failure");
  if (limit.signal?.aborted) throw limit.translate(undefined);
  try {
    const answers = await raceSignal(resolver.resolve(ascii, family, limit.signal), limit.signal);
    return nonEmpty(orderAddresses(answers, family), ascii, family);
  } catch (error) {
    throw limit.translate(error);
  } finally {
    limit.dispose();
  }
}

function nonEmpty(addresses: IpAddress[], name: string, family: LookupFamily): IpAddress[] {
  if (addresses.length > 0) return addresses;
  const which = family === "any" ? "addresses" : `${family} addresses`;
  throw socketError("name-unresolvable", "resolve", name, `no ${which}`);
}

function checkFamily(family: unknown): LookupFamily {
  if (family === undefined) return "any";
  if (family === "ipv4" || family === "ipv6" || family === "any") return family;
  throw socketError("invalid-argument", "resolve", "", `family must be "ipv4", "ipv6" or "any", got ${String(family)}`);
}

function pickResolver(resolvers: NamedResolvers, choice: ResolveOptions["resolver"]): Resolver {
  if (choice === undefined || choice === "system") return resolvers.system;
  if (choice === "wire") return resolvers.wire();
  if (typeof choice === "object" && choice !== null && typeof choice.resolve === "function") return choice;
  throw socketError("invalid-argument", "resolve", "", `resolver must be "system", "wire" or a Resolver`);
}

/** Rejects with the signal's reason when it aborts first; the lookup itself runs on. */
function raceSignal<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
