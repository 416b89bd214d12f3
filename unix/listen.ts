/**
 * `unix.listen`: checks its input and the policy, replaces a stale socket file, binds
 * with the requested mode, and removes the file again when the listener closes.
 *
 * @module
 */
import { describeValue } from "../core/address.ts";
import type { UnixSocketAddress } from "../core/address.ts";
import type { Driver, RawListener } from "../core/driver.ts";
import { socketError } from "../core/errors.ts";
import { Listener } from "../core/listener.ts";
import type { UnixAccessCheck } from "./connect.ts";
import { checkUnixPath } from "./path.ts";
import { checkMode, chmodSocket, fileIdentity, missingDirectory, removeIfSame, replaceStale, withModeMask } from "./socket_file.ts";

/**
 * Options of `unix.listen`.
 *
 * @example Using `UnixListenOptions`
 * ```ts
 * import type { UnixListenOptions } from "./listen.ts";
 * const options: UnixListenOptions = { mode: 0o660 };
 * console.log(options.mode?.toString(8));
 * ```
 */
export interface UnixListenOptions {
  /**
   * The socket file's permission bits, from `0` to `0o777` (e.g. `0o660`), in place
   * before any connection can be made. Default: `0o777` less the process umask. Not for
   * abstract names, which have no file.
   */
  mode?: number;
  /** The length of the kernel's queue of connections not yet accepted (Node only, as for TCP). */
  backlog?: number;
}

/**
 * Opens a Unix socket listener through `driver`.
 *
 * @returns The listener.
 */
export async function listenUnix(
  driver: Driver,
  checkInbound: UnixAccessCheck,
  path: string,
  options: UnixListenOptions = {},
): Promise<Listener<UnixSocketAddress>> {
  const operation = "unix.listen";
  const checked = checkUnixPath(path, operation, driver);
  if (typeof options !== "object" || options === null) {
    throw socketError("invalid-argument", operation, "", "options must be an object");
  }
  const { mode, backlog } = options;
  checkMode(mode, checked.abstract, operation);
  if (backlog !== undefined && (typeof backlog !== "number" || !Number.isInteger(backlog) || backlog < 1)) {
    throw socketError("invalid-argument", operation, "", `backlog must be a positive integer, got ${describeValue(backlog)}`);
  }
  checkInbound(checked.policyPath);
  if (checked.abstract) return new Listener(await bind(driver, path, backlog), "unix", driver);
  await replaceStale(driver, path);
  const raw = await bind(driver, path, backlog, mode);
  if (mode !== undefined) {
    try {
      chmodSocket(path, mode);
    } catch (error) {
      raw.close();
      throw error;
    }
  }
  const identity = fileIdentity(path);
  return new Listener({
    localAddress: raw.localAddress,
    accept: () => raw.accept(),
    close() {
      raw.close();
      removeIfSame(path, identity);
    },
  }, "unix", driver);
}

/** Binds and listens; the driver binds synchronously, inside the mode mask. */
async function bind(driver: Driver, path: string, backlog: number | undefined, mode?: number): Promise<RawListener<UnixSocketAddress>> {
  try {
    return await withModeMask(mode, () => driver.unixListen({ path, backlog }));
  } catch (error) {
    throw missingDirectory(error, path);
  }
}
