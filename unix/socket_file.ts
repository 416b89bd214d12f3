/**
 * The socket file of a listener or a bound datagram socket: replacing a stale one,
 * creating it with a mode, and removing it on close. `node:fs` works on Node, Deno and
 * Bun alike. `operation` (default `unix.listen`) names the caller in error messages.
 *
 * @module
 */
import fs from "node:fs";
import { dirname } from "node:path";
import process from "node:process";
import { describeValue, formatUnixPath } from "../core/address.ts";
import type { Driver } from "../core/driver.ts";
import { errnoOf } from "../core/errno.ts";
import { SocketError, socketError } from "../core/errors.ts";

/** Checks a `mode` option: undefined, or permission bits for a file (an abstract name has none). */
export function checkMode(mode: unknown, abstract: boolean, operation: string): asserts mode is number | undefined {
  if (mode === undefined) return;
  if (typeof mode !== "number" || !Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw socketError("invalid-argument", operation, "", `mode must be an integer from 0 to 0o777, got ${describeValue(mode)}`);
  }
  if (abstract) throw socketError("invalid-argument", operation, "", "an abstract name has no file, so no mode");
}

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
 * Clears the way for a socket at `path`. Nothing there: nothing to do. A socket nobody
 * listens on (connecting is refused): it is removed. A live socket (a datagram socket
 * refuses a stream connect with EPROTOTYPE, so it counts as live), or anything that is
 * not a socket (left untouched): `address-in-use`.
 */
export async function replaceStale(driver: Driver, path: string, operation = "unix.listen"): Promise<void> {
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
export function withModeMask<T>(mode: number | undefined, bind: () => T, operation = "unix.listen"): T {
  if (mode === undefined) return bind();
  let previous: number;
  try {
    previous = process.umask(0o777);
  } catch (error) {
    throw socketError("not-supported", operation, "", "mode needs process.umask(), which this thread cannot set", error);
  }
  process.umask(previous | (~mode & 0o777));
  try {
    return bind();
  } finally {
    process.umask(previous);
  }
}

/** Sets the socket file's mode exactly. */
export function chmodSocket(path: string, mode: number, operation = "unix.listen"): void {
  try {
    fs.chmodSync(path, mode);
  } catch (error) {
    const code = errnoOf(error) === "EPERM" || errnoOf(error) === "EACCES" ? "access-denied" : "unknown";
    const why = error instanceof Error ? error.message : String(error);
    throw socketError(code, operation, formatUnixPath(path), `cannot set the mode: ${why}`, error);
  }
}

/**
 * A bind into a directory that does not exist: the address cannot be bound. Runtimes
 * disagree on the errno (libuv turns ENOENT into EACCES), so the directory is looked at.
 */
export function missingDirectory(error: unknown, path: string, operation = "unix.listen"): unknown {
  if (!(error instanceof SocketError) || isDirectory(dirname(path))) return error;
  return socketError("address-not-bindable", operation, formatUnixPath(path), "no such directory", error.cause);
}

function isDirectory(path: string): boolean {
  try {
    return fs.statSync(path).isDirectory();
  } catch {
    return false;
  }
}
