/**
 * `unix.bindDatagram`: checks its input and the policy, makes sure the driver has Unix
 * datagram sockets before touching any file, replaces a stale socket file, binds with
 * the requested mode, and removes the file again when the socket closes.
 *
 * @module
 */
import { describeValue, formatUnixPath } from "../core/address.ts";
import type { Driver, RawUnixDatagramSocket } from "../core/driver.ts";
import { socketError } from "../core/errors.ts";
import type { UnixAccessCheck } from "./connect.ts";
import { UnixDatagramSocket } from "./datagram_socket.ts";
import { checkUnixPath } from "./path.ts";
import { checkMode, chmodSocket, fileIdentity, missingDirectory, removeIfSame, replaceStale, withModeMask } from "./socket_file.ts";

/**
 * Options of `unix.bindDatagram`.
 *
 * @example Using `UnixDatagramBindOptions`
 * ```ts
 * import type { UnixDatagramBindOptions } from "./bind_datagram.ts";
 * const options: UnixDatagramBindOptions = { mode: 0o660 };
 * console.log(options.mode?.toString(8));
 * ```
 */
export interface UnixDatagramBindOptions {
  /**
   * The socket file's permission bits, from `0` to `0o777` (e.g. `0o660`), in place
   * before any datagram can be sent to it. Default: `0o777` less the process umask. Not
   * for abstract names, which have no file.
   */
  mode?: number;
}

const OPERATION = "unix.bindDatagram";

/**
 * Binds a Unix datagram socket through `driver`.
 *
 * @param checkBind The policy's check for the bound path (`inbound-unix`).
 * @param checkSend The policy's check for each destination (`outbound-unix`), if any.
 * @returns The socket.
 */
export async function bindUnixDatagram(
  driver: Driver,
  checkBind: UnixAccessCheck,
  checkSend: UnixAccessCheck | undefined,
  path: string,
  options: UnixDatagramBindOptions = {},
): Promise<UnixDatagramSocket> {
  const checked = checkUnixPath(path, OPERATION, driver);
  if (typeof options !== "object" || options === null) {
    throw socketError("invalid-argument", OPERATION, "", `options must be an object, got ${describeValue(options)}`);
  }
  const { mode } = options;
  checkMode(mode, checked.abstract, OPERATION);
  checkBind(checked.policyPath);
  const bind = driver.unixDatagramBind?.bind(driver);
  const unsupported = driver.unixDatagramUnsupported() ?? (bind === undefined ? `the ${driver.name} driver has none` : undefined);
  if (unsupported !== undefined || bind === undefined) {
    throw socketError("not-supported", OPERATION, formatUnixPath(path), `no Unix datagram sockets: ${unsupported}`);
  }

  let raw: RawUnixDatagramSocket;
  if (checked.abstract) {
    raw = await bind({ path });
  } else {
    await replaceStale(driver, path, OPERATION);
    try {
      raw = await withModeMask(mode, () => bind({ path }), OPERATION);
    } catch (error) {
      throw missingDirectory(error, path, OPERATION);
    }
    const bound = raw;
    const identity = fileIdentity(path);
    if (mode !== undefined) {
      try {
        chmodSocket(path, mode, OPERATION);
      } catch (error) {
        bound.close();
        removeIfSame(path, identity);
        throw error;
      }
    }
    raw = {
      localAddress: bound.localAddress,
      receive: () => bound.receive(),
      send: (data, to) => bound.send(data, to),
      close() {
        bound.close();
        removeIfSame(path, identity);
      },
    };
  }
  return new UnixDatagramSocket(raw, driver, checkSend);
}
