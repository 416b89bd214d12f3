/**
 * `unix.connect`: checks its input and the policy, then connects through the driver.
 *
 * @module
 */
import { formatUnixPath } from "../core/address.ts";
import type { UnixSocketAddress } from "../core/address.ts";
import { checkSignal, checkTimeout, deadline } from "../core/abort.ts";
import { Connection } from "../core/connection.ts";
import type { Driver } from "../core/driver.ts";
import { errnoOf } from "../core/errno.ts";
import { SocketError, socketError } from "../core/errors.ts";
import { checkUnixPath } from "./path.ts";

/**
 * Options of `unix.connect`.
 *
 * @example Using `UnixConnectOptions`
 * ```ts
 * import type { UnixConnectOptions } from "./connect.ts";
 * const options: UnixConnectOptions = { timeout: 1000 };
 * console.log(options.timeout);
 * ```
 */
export interface UnixConnectOptions {
  /** Aborts connecting; it rejects with `signal.reason`. Only the connecting. */
  signal?: AbortSignal;
  /**
   * Milliseconds for connecting before failing with `timeout`. `0` means the time is up
   * before starting: it fails with `timeout` without trying.
   */
  timeout?: number;
}

/** Asked before any system call with the absolute path (or abstract name): throws `access-denied` when not allowed. */
export type UnixAccessCheck = (path: string) => void;

/**
 * Connects to a Unix socket through `driver`.
 *
 * @returns The connection.
 */
export async function connectUnix(
  driver: Driver,
  checkOutbound: UnixAccessCheck,
  path: string,
  options: UnixConnectOptions = {},
): Promise<Connection<UnixSocketAddress>> {
  const operation = "unix.connect";
  const checked = checkUnixPath(path, operation, driver);
  if (typeof options !== "object" || options === null) {
    throw socketError("invalid-argument", operation, "", "options must be an object");
  }
  const signal = checkSignal(options.signal, operation);
  const timeout = checkTimeout(options.timeout, operation);
  checkOutbound(checked.policyPath);
  const target = formatUnixPath(path);
  if (signal?.aborted) throw signal.reason;
  if (timeout === 0) throw socketError("timeout", operation, target, "timed out after 0 ms");
  const limit = deadline(signal, timeout, operation, target);
  try {
    const raw = await driver.unixConnect({ path, signal: limit.signal });
    return new Connection(raw, `unix ${target}`, { driver, side: "client" });
  } catch (error) {
    throw limit.translate(queueFull(error, operation, target));
  } finally {
    limit.dispose();
  }
}

/**
 * A listener whose queue is full refuses at once: Bun says ECONNREFUSED, Node and Deno
 * EAGAIN. Both are `connection-refused`.
 */
function queueFull(error: unknown, operation: string, target: string): unknown {
  if (!(error instanceof SocketError) || error.code !== "unknown" || errnoOf(error.cause) !== "EAGAIN") return error;
  return socketError("connection-refused", operation, target, "the listener's queue of connections is full", error.cause);
}
