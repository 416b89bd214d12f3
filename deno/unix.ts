/**
 * Unix domain sockets over `Deno.connect({ transport: "unix" })` and
 * `Deno.listen({ transport: "unix" })`. Deno reports an unnamed socket's path as null.
 *
 * @module
 */
import { formatUnixPath } from "../core/address.ts";
import type { UnixSocketAddress } from "../core/address.ts";
import type { RawConnection, RawListener, UnixConnectRequest, UnixListenRequest } from "../core/driver.ts";
import { unixEnds } from "../core/ends.ts";
import type { ConnectionEnds } from "../core/ends.ts";
import { socketError } from "../core/errors.ts";
import { DenoConnection, denoListener } from "./connection.ts";
import { deno } from "./deno_api.ts";
import type { DenoUnixConn, DenoUnixListener } from "./deno_api.ts";
import { denoError } from "./errors.ts";

function denoUnixEnds(conn: DenoUnixConn): ConnectionEnds<UnixSocketAddress> {
  return unixEnds(conn.localAddr.path, conn.remoteAddr.path);
}

/**
 * Connects to the socket at `request.path`. `Deno.connect` takes no signal for Unix
 * sockets; a Unix connect settles at once anyway, so an abort is checked before and after.
 */
export async function denoUnixConnect(request: UnixConnectRequest): Promise<RawConnection<UnixSocketAddress>> {
  const { path, signal } = request;
  if (signal?.aborted) throw signal.reason;
  let conn: DenoUnixConn;
  try {
    conn = await deno().connect({ transport: "unix", path });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw denoError(error, "unix.connect", formatUnixPath(path));
  }
  if (signal?.aborted) {
    conn.close();
    throw signal.reason;
  }
  return new DenoConnection(conn, denoUnixEnds(conn));
}

/** Listens at `request.path`; `Deno.listen` binds synchronously. */
export function denoUnixListen(request: UnixListenRequest): Promise<RawListener<UnixSocketAddress>> {
  const { path } = request;
  const target = formatUnixPath(path);
  if (request.backlog !== undefined) {
    return Promise.reject(socketError("not-supported", "unix.listen", target, "Deno cannot set the backlog"));
  }
  let listener: DenoUnixListener;
  try {
    listener = deno().listen({ transport: "unix", path });
  } catch (error) {
    return Promise.reject(denoError(error, "unix.listen", target));
  }
  return Promise.resolve(denoListener(listener, "unix", { path }, denoUnixEnds));
}
