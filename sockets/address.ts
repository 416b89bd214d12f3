/**
 * The address forms of the Sockets API: `"host:port"` (`"[::1]:5432"` for IPv6) or
 * `{ hostname, port }`.
 *
 * @module
 */
import { socketsError } from "./errors.ts";

/**
 * Where {@linkcode connect} connects: a host name or IP literal and a port.
 *
 * @example Using `SocketAddress`
 * ```ts
 * import type { SocketAddress } from "./address.ts";
 * const db: SocketAddress = { hostname: "localhost", port: 5432 };
 * console.log(db.port);
 * ```
 */
export interface SocketAddress {
  /** A name (resolved by unisock's resolver) or an IP literal (IPv6 with or without brackets). */
  hostname: string;
  /** The port, 1 to 65535. */
  port: number;
}

/** `address` as `{ hostname, port }` (brackets taken off an IPv6 literal), or an `invalid-argument` error. */
export function parseSocketAddress(address: unknown): SocketAddress {
  const operation = "connect";
  if (typeof address === "string") {
    const match = /^(?:\[([^\]]*)\]|([^:\[\]]*)):(\d{1,5})$/.exec(address);
    if (match === null) {
      throw socketsError("invalid-argument", operation, JSON.stringify(address), 'address must be "host:port" ("[::1]:port" for IPv6)');
    }
    return checked({ hostname: match[1] ?? match[2], port: Number(match[3]) }, address);
  }
  if (typeof address === "object" && address !== null) {
    const { hostname, port } = address as Record<string, unknown>;
    if (typeof hostname !== "string") {
      throw socketsError("invalid-argument", operation, "", "address.hostname must be a string");
    }
    if (typeof port !== "number") throw socketsError("invalid-argument", operation, hostname, "address.port must be a number");
    const bare = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
    return checked({ hostname: bare, port }, `${hostname}:${port}`);
  }
  throw socketsError("invalid-argument", operation, "", 'address must be "host:port" or { hostname, port }');
}

function checked(address: SocketAddress, text: string): SocketAddress {
  if (address.hostname === "") throw socketsError("invalid-argument", "connect", text, "the host name is empty");
  if (!Number.isInteger(address.port) || address.port < 1 || address.port > 65535) {
    throw socketsError("invalid-argument", "connect", text, "the port must be an integer from 1 to 65535");
  }
  return address;
}

/** `host:port` as the Sockets API shows an address (`[::1]:5432` for IPv6). */
export function formatHostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}
