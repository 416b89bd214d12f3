/**
 * Unix domain sockets. Not built yet: `connect` and `listen` reject with `not-supported`
 * until the Unix socket work lands (see the README's runtime table).
 *
 * @module
 */
import { socketError } from "../core/errors.ts";

/**
 * Connects to a Unix domain socket. Not built yet: rejects with `not-supported`.
 *
 * @param path The socket's path.
 * @returns Never resolves for now.
 *
 * @example
 * ```ts
 * import { connect } from "./mod.ts";
 * await connect("/run/app.sock").catch((error) => console.log(error.code)); // "not-supported"
 * ```
 */
export function connect(path: string): Promise<never> {
  return Promise.reject(socketError("not-supported", "unix.connect", String(path), "Unix sockets are not built yet"));
}

/**
 * Listens on a Unix domain socket. Not built yet: rejects with `not-supported`.
 *
 * @param path The socket's path.
 * @returns Never resolves for now.
 *
 * @example
 * ```ts
 * import { listen } from "./mod.ts";
 * await listen("/tmp/app.sock").catch((error) => console.log(error.code)); // "not-supported"
 * ```
 */
export function listen(path: string): Promise<never> {
  return Promise.reject(socketError("not-supported", "unix.listen", String(path), "Unix sockets are not built yet"));
}
