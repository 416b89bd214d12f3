/**
 * `connect()` of the Sockets API over any `tcp.connect`: the ambient network's (the
 * `./sockets` entry) or a `Network` handle's (`network.sockets`), so a policy applies.
 *
 * @module
 */
import type { IpSocketAddress } from "../core/address.ts";
import type { Connection } from "../core/connection.ts";
import type { TcpConnectAddress, TcpConnectOptions } from "../tcp/connect.ts";
import { parseSocketAddress } from "./address.ts";
import type { SocketAddress } from "./address.ts";
import { socketsError } from "./errors.ts";
import { Socket, tlsClientOptions } from "./socket.ts";
import type { SocketOptions, SocketSettings } from "./socket.ts";

/** The `tcp.connect` a socket is opened with. */
export type TcpConnector = (
  remote: TcpConnectAddress,
  options?: TcpConnectOptions,
) => Promise<Connection<IpSocketAddress>>;

/**
 * Opens a socket through `tcpConnect`: checks the input at once (a `SocketsApiError`
 * thrown), then connects in the background.
 */
export function connectSocket(tcpConnect: TcpConnector, address: string | SocketAddress, options?: SocketOptions): Socket {
  const settings = socketSettings(address, options);
  const tls = settings.secureTransport === "on" ? tlsClientOptions(settings) : undefined;
  const opening = tcpConnect(settings.address, tls === undefined ? {} : { tls });
  return new Socket(opening, settings);
}

function socketSettings(address: unknown, options: unknown): SocketSettings {
  const parsed = parseSocketAddress(address);
  const target = `${parsed.hostname.includes(":") ? `[${parsed.hostname}]` : parsed.hostname}:${parsed.port}`;
  const invalid = (detail: string) => socketsError("invalid-argument", "connect", target, detail);
  if (options !== undefined && (typeof options !== "object" || options === null)) throw invalid("options must be an object");
  const { secureTransport = "off", allowHalfOpen = false, sni, alpn, ca } = (options ?? {}) as Record<string, unknown>;
  if (secureTransport !== "off" && secureTransport !== "on" && secureTransport !== "starttls") {
    throw invalid(`secureTransport must be "off", "on" or "starttls", not ${JSON.stringify(secureTransport)}`);
  }
  if (typeof allowHalfOpen !== "boolean") throw invalid("allowHalfOpen must be a boolean");
  if (sni !== undefined && (typeof sni !== "string" || sni === "")) throw invalid("sni must be a non-empty string");
  if (alpn !== undefined && !(Array.isArray(alpn) && alpn.every((item) => typeof item === "string"))) {
    throw invalid("alpn must be an array of strings");
  }
  if (ca !== undefined && typeof ca !== "string" && !(Array.isArray(ca) && ca.every((item) => typeof item === "string"))) {
    throw invalid("ca must be a PEM string or an array of them");
  }
  return {
    target,
    address: parsed,
    secureTransport,
    allowHalfOpen,
    sni: sni as string | undefined,
    alpn: alpn as string[] | undefined,
    ca: ca as string | string[] | undefined,
  };
}
