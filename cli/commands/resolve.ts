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
import { readPemFile } from "../tls.ts";

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
  synopsis: "resolve NAME... [--family ipv4|ipv6|any] [--server HOST:PORT|tls://...|https://...] [--ca FILE] [--json]",
  summary: "print the IP addresses of names",
  help: `Resolves each NAME to IP addresses: IPv6 and IPv4 interleaved, IPv6 first, without
duplicates. An IP address is printed back in canonical form; localhost needs no query.
Prints one address per line; with several names, one "NAME ADDRESS" per line.

  --family F          ipv4, ipv6 or any (the default)
  --server HOST:PORT  ask this DNS server (an IP address, port 53 by default) with
                      unisock's own DNS client instead of the system resolver
  --server tls://HOST[:PORT][#NAME]
                      the same over DNS over TLS (port 853 by default); the server's
                      certificate must name NAME (default HOST)
  --server https://HOST[:PORT]/PATH[#NAME]
                      the same over DNS over HTTPS (HTTP/2, port 443 by default)
  --ca FILE           with a tls:// or https:// server: the only issuers (PEM) trusted
                      for its certificate (default: the runtime's trust store)
  --json              print {"NAME": ["ADDRESS", ...], ...} on one line

A name that does not resolve is reported on stderr and left out; the exit code is then 1.`,
  args: { flags: { "--family": "value", "--server": "value", "--ca": "value", "--json": "switch" }, min: 1, max: Infinity },
  run,
};

async function run(args: ParsedArgs, io: Io): Promise<number> {
  const family = parseFamily(args.flags.get("--family") ?? "any");
  const server = args.flags.get("--server");
  const caFile = args.flags.get("--ca");
  if (caFile !== undefined && (server === undefined || !/^(tls|https):\/\//i.test(server))) {
    throw new UsageError("--ca is for a --server tls://... or https://...");
  }
  const resolver = server === undefined ? undefined : wireResolver(server, caFile === undefined ? undefined : readPemFile("--ca", caFile));
  const network = chooseNetwork(args.network);
  const names = args.positionals;
  let settled: PromiseSettledResult<IpAddress[]>[];
  try {
    settled = await Promise.allSettled(names.map((name) => network.resolveAddresses(name, { family, resolver })));
  } finally {
    // A tls:// or https:// server's connection would otherwise stay open for its idle second.
    await resolver?.close();
  }
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

function wireResolver(server: string, ca: string | undefined): WireResolver {
  try {
    return new WireResolver(ca === undefined ? { nameservers: [server] } : { nameservers: [server], ca });
  } catch (error) {
    if (error instanceof SocketError) throw new UsageError(`${/^WireResolver: ca\b/.test(error.message) ? "--ca" : "--server"}: ${error.message}`);
    throw error;
  }
}
