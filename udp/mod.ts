/**
 * UDP: `bind` a socket, then `send`, `sendMany` and `receive` datagrams, the same on
 * Node.js, Deno and Bun. Destinations are IP addresses, not names (as in WASI).
 *
 * @example A round trip on loopback
 * ```ts
 * import { bind } from "./mod.ts";
 * await using server = await bind({ hostname: "127.0.0.1", port: 0 });
 * await using client = await bind({ hostname: "127.0.0.1", port: 0 });
 * client.connect(server.localAddress);
 * await client.send(new TextEncoder().encode("hello"));
 * const { data } = await server.receive();
 * console.log(new TextDecoder().decode(data)); // "hello"
 * ```
 *
 * @module
 */
import { ambientNetwork } from "../network/ambient.ts";
import type { UdpBindOptions } from "./bind.ts";
import type { UdpSocket } from "./socket.ts";

export type { UdpBindOptions } from "./bind.ts";
export { UdpSocket } from "./socket.ts";
export type { UdpDatagram, UdpTarget } from "./socket.ts";

/**
 * Binds a UDP socket.
 *
 * @param options `{ hostname?, port?, reuseAddress?, ipv6Only?, receiveQueueSize? }`; defaults to `0.0.0.0`, a free port.
 * @returns The socket; `socket.localAddress` tells the port.
 *
 * @example Bind on a free loopback port
 * ```ts
 * import { bind } from "./mod.ts";
 * await using socket = await bind({ hostname: "127.0.0.1" });
 * console.log(socket.localAddress.port > 0); // true
 * ```
 */
export function bind(options?: UdpBindOptions): Promise<UdpSocket> {
  return ambientNetwork.udp.bind(options);
}
