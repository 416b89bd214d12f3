/**
 * The network the `unisock` tool works through, and opening its endpoints on it: the
 * ambient network, or `createNetwork(flags)` when `--allow-*` flags were given.
 *
 * @module
 */
import { createNetwork, resolveAddresses, tcp, unix } from "../mod.ts";
import type {
  Connection,
  IpSocketAddress,
  Listener,
  Network,
  NetworkFlagRules,
  TlsClientOptions,
  TlsServerOptions,
  UnixSocketAddress,
} from "../mod.ts";
import type { Endpoint } from "./args.ts";

/**
 * What the tool uses of a network: the module functions, or a `Network` handle.
 *
 * @example Using `CliNetwork`
 * ```ts
 * import { chooseNetwork } from "./network.ts";
 * import type { CliNetwork } from "./network.ts";
 * const network: CliNetwork = chooseNetwork(undefined);
 * console.log(typeof network.tcp.connect);
 * ```
 */
export type CliNetwork = Pick<Network, "resolveAddresses" | "tcp" | "unix">;

/**
 * The network for a command: the ambient one when no `--allow-*` flag was given, else a
 * handle that allows only what the flags allow.
 *
 * @param rules The rules from `parseNetworkFlags`, or undefined.
 * @returns The network to go through.
 *
 * @example Using `chooseNetwork`
 * ```ts
 * import { chooseNetwork } from "./network.ts";
 * const network = chooseNetwork({ resolve: [], outbound: ["tcp://127.0.0.1:8080"], inbound: [] });
 * console.log(typeof network.resolveAddresses);
 * ```
 */
export function chooseNetwork(rules: NetworkFlagRules | undefined): CliNetwork {
  return rules === undefined ? { resolveAddresses, tcp, unix } : createNetwork(rules);
}

/**
 * Connects to an endpoint. A `tls://` endpoint resolves once the handshake is done and
 * the server verified (for the policy it is TCP).
 *
 * @param network The network to go through.
 * @param endpoint Where to connect (a TCP endpoint needs a host).
 * @param signal Aborts connecting (the handshake too).
 * @param tls The client options for a `tls://` endpoint (default: the runtime's trust store).
 * @returns The connection.
 *
 * @example Using `connectTo`
 * ```ts ignore
 * import { connectTo, chooseNetwork } from "./network.ts";
 * const conn = await connectTo(chooseNetwork(undefined), { transport: "unix", path: "/run/app.sock" });
 * conn.close();
 * ```
 */
export function connectTo(network: CliNetwork, endpoint: Endpoint, signal?: AbortSignal, tls?: TlsClientOptions): Promise<Connection> {
  if (endpoint.transport === "unix") return network.unix.connect(endpoint.path, { signal });
  const remote = { hostname: endpoint.hostname ?? "", port: endpoint.port };
  return network.tcp.connect(remote, endpoint.tls ? { signal, tls: tls ?? true } : { signal });
}

/**
 * Listens on an endpoint.
 *
 * @param network The network to go through.
 * @param endpoint Where to listen.
 * @param mode The socket file's mode (Unix only).
 * @param tls The server options; required for a `tls://` endpoint.
 * @returns The listener: on `tls://`, it yields only connections whose handshake succeeded.
 *
 * @example Using `listenOn`
 * ```ts ignore
 * import { listenOn, chooseNetwork } from "./network.ts";
 * const listener = await listenOn(chooseNetwork(undefined), { transport: "tcp", hostname: "127.0.0.1", port: 0 });
 * listener.close();
 * ```
 */
export function listenOn(network: CliNetwork, endpoint: Endpoint, mode?: number, tls?: TlsServerOptions): Promise<Listener> {
  if (endpoint.transport === "unix") return network.unix.listen(endpoint.path, mode === undefined ? {} : { mode });
  const where = { hostname: endpoint.hostname, port: endpoint.port };
  if (!endpoint.tls) return network.tcp.listen(where);
  if (tls === undefined) throw new TypeError("listenOn: a tls:// endpoint needs the server's TLS options");
  return network.tcp.listen({ ...where, tls });
}

/**
 * An address in the tool's own syntax: `tcp://127.0.0.1:8080`, `tcp://[::1]:8080`,
 * `tls://127.0.0.1:8443` (with `tls`), `unix:/run/app.sock`, `unix:@name` (abstract).
 *
 * @param address A listener's or connection's address.
 * @param tls Whether TLS runs on it (an IP address is then written `tls://`).
 * @returns The text.
 *
 * @example Using `formatAddress`
 * ```ts
 * import { formatAddress } from "./network.ts";
 * console.log(formatAddress({ address: "::1", port: 80, family: "ipv6" })); // "tcp://[::1]:80"
 * ```
 */
export function formatAddress(address: IpSocketAddress | UnixSocketAddress, tls = false): string {
  if ("path" in address) return `unix:${address.path.startsWith("\0") ? `@${address.path.slice(1)}` : address.path}`;
  const scheme = tls ? "tls" : "tcp";
  return address.family === "ipv6" ? `${scheme}://[${address.address}]:${address.port}` : `${scheme}://${address.address}:${address.port}`;
}
