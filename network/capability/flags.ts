/**
 * `parseNetworkFlags`: the `--allow-resolve=`, `--allow-outbound=` and `--allow-inbound=`
 * flags of a command line, as the object form of a policy.
 *
 * @module
 */
import { describeValue } from "../../core/address.ts";
import { socketError } from "../../core/errors.ts";
import { readFlag } from "./rules.ts";
import type { NetworkRules } from "./rules.ts";

/**
 * What {@linkcode parseNetworkFlags} gives: every list present, in flag order.
 *
 * @example Using `NetworkFlagRules`
 * ```ts
 * import type { NetworkFlagRules } from "./flags.ts";
 * const rules: NetworkFlagRules = { resolve: [], outbound: ["tcp://127.0.0.1:80"], inbound: [] };
 * console.log(rules.outbound.length);
 * ```
 */
export interface NetworkFlagRules extends NetworkRules {
  /** From `--allow-resolve=`. */
  resolve: string[];
  /** From `--allow-outbound=`. */
  outbound: string[];
  /** From `--allow-inbound=`. */
  inbound: string[];
}

/**
 * Reads the network flags from a command line: `--allow-resolve=`, `--allow-outbound=`
 * and `--allow-inbound=`, each repeatable and each taking one rule or a comma-separated
 * list. Every rule is checked: a malformed one is `invalid-argument` saying what is wrong.
 * Other arguments are left alone (so `process.argv.slice(2)` can be passed whole, with
 * the program's own flags in it), and nothing after `--` is read.
 *
 * @param argv The arguments, e.g. `process.argv.slice(2)` or `Deno.args`.
 * @returns The rules in object form, for `createNetwork`.
 *
 * @example A program that gives a library what its command line allows
 * ```ts
 * import { createNetwork, parseNetworkFlags } from "../../mod.ts";
 * const rules = parseNetworkFlags(["--allow-outbound=tcp://db.internal:5432", "--verbose"]);
 * console.log(rules); // { resolve: [], outbound: ["tcp://db.internal:5432"], inbound: [] }
 * const network = createNetwork(rules);
 * console.log(network.driverName);
 * ```
 */
export function parseNetworkFlags(argv: readonly string[]): NetworkFlagRules {
  const operation = "parseNetworkFlags";
  if (!Array.isArray(argv)) throw socketError("invalid-argument", operation, "", `argv must be an array of strings, got ${describeValue(argv)}`);
  const rules: NetworkFlagRules = { resolve: [], outbound: [], inbound: [] };
  for (const arg of argv) {
    if (arg === "--") break;
    if (typeof arg !== "string") throw socketError("invalid-argument", operation, "", `argv must hold strings, got ${describeValue(arg)}`);
    readFlag(arg, rules, operation);
  }
  return rules;
}
