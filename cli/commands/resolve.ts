/**
 * `unisock resolve NAME...`: the IP addresses of names, one per line or as JSON.
 *
 * @module
 */
import { SocketError, WireResolver } from "../../mod.ts";
import type { IpAddress, LookupFamily } from "../../mod.ts";
import { UsageError } from "../args.ts";
import type { ParsedArgs } from "../args.ts";
import { errorLine } from "../command.ts";
import type { Command, Io } from "../command.ts";
import { chooseNetwork } from "../network.ts";

const FAMILIES: readonly LookupFamily[] = ["ipv4", "ipv6", "any"];

/**
 * `unisock resolve`.
 *
 * @example Using `resolveCommand`
 * ```ts
 * import { resolveCommand } from "./resolve.ts";
 * console.log(`unisock ${resolveCommand.synopsis}`);
 * ```
 */
export const resolveCommand: Command = {
  name: "resolve",
  synopsis: "resolve NAME... [--family ipv4|ipv6|any] [--server HOST:PORT] [--json]",
  summary: "print the IP addresses of names",
  help: `Resolves each NAME to IP addresses: IPv6 and IPv4 interleaved, IPv6 first, without
duplicates. An IP address is printed back in canonical form; localhost needs no query.
Prints one address per line; with several names, one "NAME ADDRESS" per line.

  --family F          ipv4, ipv6 or any (the default)
  --server HOST:PORT  ask this DNS server (an IP address, port 53 by default) with
                      unisock's own DNS client instead of the system resolver
  --json              print {"NAME": ["ADDRESS", ...], ...} on one line

A name that does not resolve is reported on stderr and left out; the exit code is then 1.`,
  args: { flags: { "--family": "value", "--server": "value", "--json": "switch" }, min: 1, max: Infinity },
  run,
};

async function run(args: ParsedArgs, io: Io): Promise<number> {
  const family = parseFamily(args.flags.get("--family") ?? "any");
  const server = args.flags.get("--server");
  const resolver = server === undefined ? undefined : wireResolver(server);
  const network = chooseNetwork(args.network);
  const names = args.positionals;
  const settled = await Promise.allSettled(names.map((name) => network.resolveAddresses(name, { family, resolver })));
  const found: [string, IpAddress[]][] = [];
  let failed = false;
  settled.forEach((result, i) => {
    if (result.status === "fulfilled") found.push([names[i], result.value]);
    else if (result.reason instanceof SocketError) {
      io.log(errorLine(result.reason));
      failed = true;
    } else throw result.reason;
  });
  if (args.flags.has("--json")) io.print(JSON.stringify(Object.fromEntries(found)));
  else {
    for (const [name, addresses] of found) {
      for (const address of addresses) io.print(names.length === 1 ? address : `${name} ${address}`);
    }
  }
  return failed ? 1 : 0;
}

function parseFamily(text: string): LookupFamily {
  const family = FAMILIES.find((f) => f === text);
  if (family === undefined) throw new UsageError(`--family takes ipv4, ipv6 or any, got ${JSON.stringify(text)}`);
  return family;
}

function wireResolver(server: string): WireResolver {
  try {
    return new WireResolver({ nameservers: [server] });
  } catch (error) {
    if (error instanceof SocketError) throw new UsageError(`--server: ${error.message}`);
    throw error;
  }
}
