/**
 * The socket file of a listener: replacing a stale one, creating it with a mode, and
 * removing it on close. `node:fs` works on Node, Deno and Bun alike.
 *
 * @module
 */
import fs from "node:fs";
import process from "node:process";
import { formatUnixPath } from "../core/address.ts";
import type { Driver } from "../core/driver.ts";
import { errnoOf } from "../core/errno.ts";
import { SocketError, socketError } from "../core/errors.ts";

/** Which file a path names: device and inode. */
export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
}

/** The identity of the file at `path` (not following a symlink), or undefined if there is none. */
export function fileIdentity(path: string): FileIdentity | undefined {
  try {
    const { dev, ino } = fs.lstatSync(path);
    return { dev, ino };
  } catch {
    return undefined;
  }
}

/** Unlinks `path` if it is still the file `identity` names; errors are ignored. */
export function removeIfSame(path: string, identity: FileIdentity | undefined): void {
  const now = fileIdentity(path);
  if (identity === undefined || now === undefined || now.dev !== identity.dev || now.ino !== identity.ino) return;
  try {
    fs.unlinkSync(path);
  } catch {
    // Gone already, or not ours to remove.
  }
}

/**
 * Clears the way for a listener at `path`. Nothing there: nothing to do. A socket nobody
 * listens on (connecting is refused): it is removed. A live socket, or anything that is
 * not a socket (left untouched): `address-in-use`.
 */
export async function replaceStale(driver: Driver, path: string): Promise<void> {
  const operation = "unix.listen";
  const target = formatUnixPath(path);
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(path);
  } catch {
    return; // Nothing there, or nothing we may look at: the bind will tell.
  }
  if (!stat.isSocket()) {
    throw socketError("address-in-use", operation, target, "a file that is not a socket is in the way; it is left alone");
  }
  try {
    const probe = await driver.unixConnect({ path });
    probe.close();
  } catch (error) {
    if (error instanceof SocketError && error.code === "connection-refused") {
      removeIfSame(path, stat);
      return;
    }
    const why = error instanceof Error ? error.message : String(error);
    throw socketError("address-in-use", operation, target, `a socket is in the way and cannot be probed (${why})`, error);
  }
  throw socketError("address-in-use", operation, target, "another socket listens there");
}

/**
 * Runs `bind` (which must create the socket file synchronously, as every driver's
 * `unixListen` does) under a umask that lets no bit outside `mode` through, so nobody
 * outside `mode` can ever connect. The umask stays at least as strict as the process's own, so a
 * file another thread creates meanwhile is never more open than it would be.
 * The caller then sets `mode` exactly with chmod.
 */
export function withModeMask<T>(mode: number | undefined, bind: () => T): T {
  if (mode === undefined) return bind();
  let previous: number;
  try {
    previous = process.umask(0o777);
  } catch (error) {
    throw socketError("not-supported", "unix.listen", "", "mode needs process.umask(), which this thread cannot set", error);
  }
  process.umask(previous | (~mode & 0o777));
  try {
    return bind();
  } finally {
    process.umask(previous);
  }
}

/** Sets the socket file's mode exactly. */
export function chmodSocket(path: string, mode: number): void {
  try {
    fs.chmodSync(path, mode);
  } catch (error) {
    const code = errnoOf(error) === "EPERM" || errnoOf(error) === "EACCES" ? "access-denied" : "unknown";
    const why = error instanceof Error ? error.message : String(error);
    throw socketError(code, "unix.listen", formatUnixPath(path), `cannot set the mode: ${why}`, error);
  }
}
