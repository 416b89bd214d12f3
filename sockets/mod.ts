/**
 * The Sockets API of WinterTC (the `connect()` of `cloudflare:sockets`) on Node.js, Deno
 * and Bun, running on unisock's own connections and TLS. Code written for Cloudflare
 * Workers runs unchanged; `network.sockets.connect` gives the same API under a policy,
 * and `./sockets/register` makes `import { connect } from "cloudflare:sockets"` resolve here.
 *
 * @example Connect, write, read
 * ```ts ignore
 * import { connect } from "@unisock/unisock/sockets";
 * const socket = connect({ hostname: "127.0.0.1", port: 6379 });
 * const writer = socket.writable.getWriter();
 * await writer.write(new TextEncoder().encode("PING\r\n"));
 * const { value } = await socket.readable.getReader().read();
 * console.log(new TextDecoder().decode(value)); // +PONG
 * await socket.close();
 * ```
 *
 * @module
 */
import { ambientNetwork } from "../network/ambient.ts";
import type { SocketAddress } from "./address.ts";
import { connectSocket } from "./connect.ts";
import type { Socket, SocketOptions } from "./socket.ts";

export type { SocketAddress } from "./address.ts";
export { SocketsApiError } from "./errors.ts";
export { Socket } from "./socket.ts";
export type { SocketChunk, SocketInfo, SocketOptions, StartTlsOptions } from "./socket.ts";

/**
 * Opens a TCP socket (with TLS when `secureTransport: "on"`), returning at once: the
 * streams may be used before `opened` settles. Bad input throws a `SocketsApiError`
 * (a `TypeError`); a failed connection rejects `opened` and `closed`.
 *
 * @param address `"host:port"` (`"[::1]:port"` for IPv6) or `{ hostname, port }`.
 * @param options `secureTransport`, `allowHalfOpen`, `sni`, `alpn`, and unisock's `ca`.
 * @returns The socket.
 *
 * @example STARTTLS
 * ```ts ignore
 * import { connect } from "./mod.ts";
 * const plain = connect("mail.example.com:587", { secureTransport: "starttls" });
 * // ... EHLO, STARTTLS over plain.readable / plain.writable, then release the locks:
 * const secure = plain.startTls();
 * console.log(await secure.opened);
 * ```
 */
export function connect(address: string | SocketAddress, options?: SocketOptions): Socket {
  return connectSocket(ambientNetwork.tcp.connect, address, options);
}
