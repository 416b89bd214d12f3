/**
 * Command-line parsing for the `unisock` tool: flags and positionals of a command, the
 * `--allow-*` network flags, and the socket addresses `tcp://HOST:PORT`, `tls://HOST:PORT`
 * and `unix:PATH`.
 *
 * @module
 */
import { parseNetworkFlags, SocketError } from "../mod.ts";
import type { NetworkFlagRules } from "../mod.ts";

/**
 * A mistake on the command line: the tool prints it with the usage line and exits 2.
 *
 * @example Using `UsageError`
 * ```ts
 * import { UsageError } from "./args.ts";
 * const error = new UsageError("missing NAME");
 * console.log(error.message);
 * ```
 */
export class UsageError extends Error {
  /** `"UsageError"`. */
  override name = "UsageError";
}

/**
 * Whether `arg` is one of the network flags (`--allow-resolve`, `--allow-outbound`,
 * `--allow-inbound`), which `parseNetworkFlags` reads; they may come anywhere on the line.
 *
 * @param arg A command-line argument.
 * @returns True for a network flag.
 *
 * @example Using `isNetworkFlag`
 * ```ts
 * import { isNetworkFlag } from "./args.ts";
 * console.log(isNetworkFlag("--allow-inbound=tcp://127.0.0.1:8080")); // true
 * ```
 */
export function isNetworkFlag(arg: string): boolean {
  return /^--allow-(resolve|outbound|inbound)(=|$)/.test(arg);
}

/**
 * What a command accepts: its flags (`"value"` flags take an argument, as `--flag VALUE`
 * or `--flag=VALUE`; `"switch"` flags take none) and how many positionals.
 *
 * @example Using `ArgsSpec`
 * ```ts
 * import type { ArgsSpec } from "./args.ts";
 * const spec: ArgsSpec = { flags: { "--json": "switch" }, min: 1, max: Infinity };
 * console.log(spec.min);
 * ```
 */
export interface ArgsSpec {
  /** Flag name to kind. */
  flags: Readonly<Record<string, "value" | "switch">>;
  /** The fewest positionals. */
  min: number;
  /** The most positionals. */
  max: number;
}

/**
 * A parsed command line.
 *
 * @example Using `ParsedArgs`
 * ```ts
 * import { parseArgs } from "./args.ts";
 * const args = parseArgs(["localhost", "--json"], { flags: { "--json": "switch" }, min: 1, max: 1 });
 * console.log(args.positionals, args.flags.has("--json"));
 * ```
 */
export interface ParsedArgs {
  /** The arguments that are not flags, in order. */
  positionals: string[];
  /** Each flag given, with its value (`""` for a switch); the last one wins. */
  flags: Map<string, string>;
  /** `--help` or `-h` was given. */
  help: boolean;
  /** The `--allow-*` rules, or undefined when no such flag was given. */
  network: NetworkFlagRules | undefined;
}

/**
 * Parses a command's arguments against `spec`. `--allow-*` flags go to
 * `parseNetworkFlags`; `--` ends the flags. With `--help` nothing else is checked.
 *
 * @param argv The arguments after the command name.
 * @param spec The flags and positionals the command takes.
 * @returns The parsed arguments.
 * @throws {UsageError} An unknown flag, a missing value, a malformed rule, or too few or too many positionals.
 *
 * @example Using `parseArgs`
 * ```ts
 * import { parseArgs } from "./args.ts";
 * const args = parseArgs(["--family=ipv4", "example.com"], { flags: { "--family": "value" }, min: 1, max: Infinity });
 * console.log(args.flags.get("--family")); // "ipv4"
 * ```
 */
export function parseArgs(argv: readonly string[], spec: ArgsSpec): ParsedArgs {
  const parsed: ParsedArgs = { positionals: [], flags: new Map(), help: false, network: undefined };
  const networkArgs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      parsed.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "--help" || arg === "-h") parsed.help = true;
    else if (isNetworkFlag(arg)) networkArgs.push(arg);
    else if (arg.startsWith("-") && arg !== "-") {
      const equals = arg.indexOf("=");
      const flag = equals === -1 ? arg : arg.slice(0, equals);
      const kind = spec.flags[flag];
      if (kind === undefined) throw new UsageError(`unknown flag ${flag}`);
      if (kind === "switch" && equals !== -1) throw new UsageError(`${flag} takes no value`);
      let value = "";
      if (kind === "value") {
        value = equals !== -1 ? arg.slice(equals + 1) : argv[++i];
        if (value === undefined) throw new UsageError(`${flag} needs a value`);
      }
      parsed.flags.set(flag, value);
    } else parsed.positionals.push(arg);
  }
  if (parsed.help) return parsed;
  parsed.network = networkArgs.length > 0 ? networkRules(networkArgs) : undefined;
  const count = parsed.positionals.length;
  if (count < spec.min) throw new UsageError(count === 0 ? "missing arguments" : "too few arguments");
  if (count > spec.max) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[spec.max])}`);
  return parsed;
}

function networkRules(args: string[]): NetworkFlagRules {
  try {
    return parseNetworkFlags(args);
  } catch (error) {
    if (error instanceof SocketError) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * Where to connect or listen: TCP on a host (a name or an IP address; none means every
 * address, for listening) and port, with TLS on it for `tls://`, or a Unix domain socket.
 *
 * @example Using `Endpoint`
 * ```ts
 * import type { Endpoint } from "./args.ts";
 * const endpoint: Endpoint = { transport: "unix", path: "/run/app.sock" };
 * console.log(endpoint.transport);
 * ```
 */
export type Endpoint =
  | { transport: "tcp"; hostname: string | undefined; port: number; tls: boolean }
  | { transport: "unix"; path: string };

/**
 * Parses `tcp://HOST:PORT` (`tcp://[::1]:8080`; `tcp://:8080` leaves the host out), the
 * same with `tls://` (TLS over that TCP address), or `unix:PATH` (also `unix://PATH`;
 * `unix:@NAME` is the Linux abstract name `"\0NAME"`).
 *
 * @param text The address as given.
 * @returns The endpoint.
 * @throws {UsageError} Any other form, or a port that is not an integer from 0 to 65535.
 *
 * @example Using `parseEndpoint`
 * ```ts
 * import { parseEndpoint } from "./args.ts";
 * console.log(parseEndpoint("tcp://127.0.0.1:8080")); // { transport: "tcp", hostname: "127.0.0.1", port: 8080, tls: false }
 * const endpoint = parseEndpoint("tls://localhost:8443");
 * console.log(endpoint.transport === "tcp" && endpoint.tls); // true
 * console.log(parseEndpoint("unix:/run/app.sock")); // { transport: "unix", path: "/run/app.sock" }
 * ```
 */
export function parseEndpoint(text: string): Endpoint {
  if (text.startsWith("unix:")) {
    let path = text.slice("unix:".length);
    if (path.startsWith("//")) path = path.slice(2);
    if (path.startsWith("@")) path = `\0${path.slice(1)}`;
    if (path === "" || path === "\0") throw new UsageError(`${JSON.stringify(text)}: no socket path after unix:`);
    return { transport: "unix", path };
  }
  const tcp = /^(tcp|tls):\/\/(\[[^\]]*\]|[^:/\[\]]*):(\d{1,5})$/.exec(text);
  if (tcp === null) {
    throw new UsageError(`${JSON.stringify(text)} is not an address: expected tcp://HOST:PORT, tls://HOST:PORT or unix:PATH`);
  }
  const port = Number(tcp[3]);
  if (port > 65535) throw new UsageError(`${JSON.stringify(text)}: the port must be from 0 to 65535`);
  const host = tcp[2].startsWith("[") ? tcp[2].slice(1, -1) : tcp[2];
  return { transport: "tcp", hostname: host === "" ? undefined : host, port, tls: tcp[1] === "tls" };
}

/**
 * Parses a Unix socket file mode in octal: `660`, `0660` or `0o660`.
 *
 * @param text The mode as given.
 * @returns The mode as a number.
 * @throws {UsageError} Not octal, or above `7777`.
 *
 * @example Using `parseMode`
 * ```ts
 * import { parseMode } from "./args.ts";
 * console.log(parseMode("660") === 0o660); // true
 * ```
 */
export function parseMode(text: string): number {
  const match = /^(?:0o)?([0-7]{1,4})$/.exec(text);
  if (match === null) throw new UsageError(`--mode takes an octal mode such as 660, got ${JSON.stringify(text)}`);
  return parseInt(match[1], 8);
}

/**
 * Parses an endpoint to connect to: as {@linkcode parseEndpoint}, and a TCP endpoint must
 * name a host and a port from 1 to 65535.
 *
 * @param text The address as given.
 * @returns The endpoint.
 * @throws {UsageError} As `parseEndpoint`, or no host, or port 0.
 *
 * @example Using `parseTarget`
 * ```ts
 * import { parseTarget } from "./args.ts";
 * console.log(parseTarget("tcp://localhost:5432").transport); // "tcp"
 * ```
 */
export function parseTarget(text: string): Endpoint {
  const endpoint = parseEndpoint(text);
  if (endpoint.transport === "tcp" && (endpoint.hostname === undefined || endpoint.port === 0)) {
    throw new UsageError(`${JSON.stringify(text)}: connecting needs a host and a port from 1 to 65535`);
  }
  return endpoint;
}
