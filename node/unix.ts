/**
 * Unix domain sockets over `node:net` (`net.connect({ path })`, `server.listen({ path })`).
 * Node reports no addresses for Unix sockets: the ends are the path asked for and `""`.
 *
 * @module
 */
import { formatUnixPath } from "../core/address.ts";
import type { UnixSocketAddress } from "../core/address.ts";
import type { RawConnection, RawListener, UnixConnectRequest, UnixListenRequest } from "../core/driver.ts";
import { unixEnds } from "../core/ends.ts";
import { connectSocket, listenServer } from "./socket.ts";

/** Connects to the socket at `request.path` (or abstract name). */
export function nodeUnixConnect(request: UnixConnectRequest): Promise<RawConnection<UnixSocketAddress>> {
  const { path } = request;
  return connectSocket({ path }, request.signal, () => unixEnds("", path), "unix.connect", formatUnixPath(path));
}

/** Listens at `request.path`; the socket file is created (bound) before this returns. */
export function nodeUnixListen(request: UnixListenRequest): Promise<RawListener<UnixSocketAddress>> {
  const { path } = request;
  // exclusive: bind here even in a cluster worker, so the bind is synchronous.
  const options = { path, backlog: request.backlog, exclusive: true };
  return listenServer(options, "unix", formatUnixPath(path), () => unixEnds(path, ""), () => ({ path }));
}
