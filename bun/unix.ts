/**
 * Unix domain sockets over `Bun.connect({ unix })` and `Bun.listen({ unix })`. Bun
 * reports no addresses for Unix sockets: the ends are the path asked for and `""`.
 *
 * @module
 */
import { formatUnixPath } from "../core/address.ts";
import type { UnixSocketAddress } from "../core/address.ts";
import { AcceptQueue } from "../core/accept_queue.ts";
import type { RawConnection, RawListener, UnixConnectRequest, UnixListenRequest } from "../core/driver.ts";
import { unixEnds } from "../core/ends.ts";
import { socketError } from "../core/errors.ts";
import { bun } from "./bun_api.ts";
import { acceptHandlers, bunConnect } from "./connection.ts";
import { bunError } from "./errors.ts";

/** Connects to the socket at `request.path` (or abstract name). */
export function bunUnixConnect(request: UnixConnectRequest): Promise<RawConnection<UnixSocketAddress>> {
  const { path } = request;
  return bunConnect(
    (socket) => bun().connect({ unix: path, allowHalfOpen: true, socket }),
    () => unixEnds("", path),
    request.signal,
    "unix.connect",
    formatUnixPath(path),
  );
}

/** Listens at `request.path`; `Bun.listen` binds synchronously. */
export function bunUnixListen(request: UnixListenRequest): Promise<RawListener<UnixSocketAddress>> {
  const { path } = request;
  const target = formatUnixPath(path);
  if (request.backlog !== undefined) {
    return Promise.reject(socketError("not-supported", "unix.listen", target, "Bun cannot set the backlog"));
  }
  const queue = new AcceptQueue<RawConnection<UnixSocketAddress>>("unix", target, (connection) => connection.close());
  try {
    const listener = bun().listen({ unix: path, allowHalfOpen: true, socket: acceptHandlers(queue, () => unixEnds(path, "")) });
    return Promise.resolve({
      localAddress: { path },
      accept: () => queue.take(),
      close() {
        queue.close();
        listener.stop(false);
      },
    });
  } catch (error) {
    return Promise.reject(bunError(error, "unix.listen", target));
  }
}
