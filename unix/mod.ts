/**
 * Unix domain sockets: `connect` and `listen`, the same on Node.js, Deno and Bun. A path
 * names a socket file; on Linux, `"\0name"` names an abstract socket (no file).
 * `listen` replaces a stale socket file, applies `mode` before any connection can be
 * made, and removes the file on `close()`. `bindDatagram` opens a Unix datagram socket
 * where the runtime has them (Deno under `--unstable-net`), and is `not-supported` elsewhere.
 *
 * @example Serve and connect
 * ```ts
 * import { connect, listen } from "./mod.ts";
 * const path = `/tmp/unisock-doc-${Date.now()}.sock`;
 * await using listener = await listen(path, { mode: 0o600 });
 * const accepted = listener.accept();
 * await using client = await connect(path, { timeout: 1000 });
 * await using server = await accepted;
 * await client.write(new TextEncoder().encode("ping"));
 * const buffer = new Uint8Array(4);
 * console.log(await server.read(buffer)); // 4
 * ```
 *
 * @module
 */
import type { UnixSocketAddress } from "../core/address.ts";
import { ambientNetwork } from "../network/ambient.ts";
import type { Connection } from "../core/connection.ts";
import type { Listener } from "../core/listener.ts";
import type { UnixConnectOptions } from "./connect.ts";
import type { UnixListenOptions } from "./listen.ts";
import type { UnixDatagramBindOptions } from "./bind_datagram.ts";
import type { UnixDatagramSocket } from "./datagram_socket.ts";

export { Connection } from "../core/connection.ts";
export type { ReadOptions } from "../core/connection.ts";
export { Listener } from "../core/listener.ts";
export type { UnixSocketAddress } from "../core/address.ts";
export type { UnixConnectOptions } from "./connect.ts";
export type { UnixListenOptions } from "./listen.ts";
export type { UnixDatagramBindOptions } from "./bind_datagram.ts";
export { UnixDatagramSocket } from "./datagram_socket.ts";
export type { UnixDatagram, UnixDatagramTarget } from "./datagram_socket.ts";

/**
 * Connects to a Unix domain socket. A missing socket file, or one nobody listens on, is
 * `connection-refused`; a socket file whose mode forbids us is `access-denied`.
 *
 * @param path The socket file (at most 107 bytes in UTF-8 on Linux), or `"\0name"` for a
 *   Linux abstract name.
 * @param options `signal` and `timeout` for connecting.
 * @returns The connection; its `remoteAddress` is `{ path }`, its `localAddress` `{ path: "" }`.
 *
 * @example Talk to a local daemon
 * ```ts ignore
 * import { connect } from "./mod.ts";
 * await using conn = await connect("/run/app.sock", { timeout: 2000 });
 * await conn.write(new TextEncoder().encode("status\n"));
 * ```
 */
export function connect(path: string, options?: UnixConnectOptions): Promise<Connection<UnixSocketAddress>> {
  return ambientNetwork.unix.connect(path, options);
}

/**
 * Listens on a Unix domain socket. A stale socket file (nobody listening) is replaced; a
 * live one, or a file that is not a socket, is `address-in-use`.
 *
 * @param path The socket file (at most 107 bytes in UTF-8 on Linux), or `"\0name"` for a
 *   Linux abstract name.
 * @param options `mode` of the socket file (e.g. `0o660`), `backlog`.
 * @returns The listener; `close()` removes the socket file.
 *
 * @example Listen with a mode
 * ```ts
 * import { listen } from "./mod.ts";
 * await using listener = await listen(`/tmp/unisock-doc-${Date.now()}.sock`, { mode: 0o660 });
 * console.log(listener.localAddress.path);
 * ```
 */
export function listen(path: string, options?: UnixListenOptions): Promise<Listener<UnixSocketAddress>> {
  return ambientNetwork.unix.listen(path, options);
}

/**
 * Binds a Unix datagram socket (SOCK_DGRAM) where the runtime has them: Deno run with
 * `--unstable-net`. Node.js (`node:dgram` has only UDP), Bun, and Deno without the flag
 * reject with `not-supported`, saying why, before touching any file. A stale socket
 * file is replaced; a live one, or a file that is not a socket, is `address-in-use`.
 *
 * @param path The socket file (at most 107 bytes in UTF-8 on Linux), or `"\0name"` for a
 *   Linux abstract name.
 * @param options `mode` of the socket file (e.g. `0o660`).
 * @returns The socket; `close()` removes the socket file.
 *
 * @example Two sockets, one datagram each way (`deno run --unstable-net`)
 * ```ts ignore
 * import { bindDatagram } from "./mod.ts";
 * await using server = await bindDatagram("/tmp/server.sock", { mode: 0o600 });
 * await using client = await bindDatagram("/tmp/client.sock");
 * await client.send(new TextEncoder().encode("ping"), "/tmp/server.sock");
 * const { data, remoteAddress } = await server.receive();
 * await server.send(data, remoteAddress);
 * console.log(new TextDecoder().decode((await client.receive()).data)); // "ping"
 * ```
 */
export function bindDatagram(path: string, options?: UnixDatagramBindOptions): Promise<UnixDatagramSocket> {
  return ambientNetwork.unix.bindDatagram(path, options);
}
