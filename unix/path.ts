/**
 * Checking a Unix socket path: a non-empty string that fits `sun_path`, or a Linux
 * abstract name (`"\0name"`) where the driver supports them.
 *
 * @module
 */
import path from "node:path";
import process from "node:process";
import { describeValue } from "../core/address.ts";
import type { Driver } from "../core/driver.ts";
import { socketError } from "../core/errors.ts";

/**
 * The most UTF-8 bytes a path may have: `sun_path` less its terminating NUL, so 107 on
 * Linux (108-byte `sun_path`) and 103 on macOS and the BSDs (104). Abstract names count
 * their leading NUL and get no more room: Bun refuses one byte more.
 */
export const MAX_PATH_BYTES: number = process.platform === "linux" ? 107 : 103;

/** A checked path. */
export interface UnixPath {
  /** The path as given. */
  readonly path: string;
  /** Whether it is a Linux abstract name (`"\0name"`): no file, no mode. */
  readonly abstract: boolean;
  /** What the policy is asked about: the absolute, normalised path, or the abstract name. */
  readonly policyPath: string;
}

/**
 * Checks `value` as a Unix socket path for `operation`.
 *
 * @returns The path and what kind it is.
 */
export function checkUnixPath(value: unknown, operation: string, driver: Driver): UnixPath {
  if (typeof value !== "string" || value.length === 0) {
    throw socketError("invalid-argument", operation, "", `path must be a non-empty string, got ${describeValue(value)}`);
  }
  const abstract = value.startsWith("\0");
  if (value.indexOf("\0", 1) !== -1) {
    throw socketError("invalid-argument", operation, "", "path must not contain NUL, except the leading one of an abstract name");
  }
  if (value === "\0") throw socketError("invalid-argument", operation, "", "an abstract name needs a name after the NUL");
  const bytes = new TextEncoder().encode(value).length;
  if (bytes > MAX_PATH_BYTES) {
    throw socketError(
      "invalid-argument",
      operation,
      "",
      `path is ${bytes} bytes in UTF-8; sun_path holds at most ${MAX_PATH_BYTES} and the terminating NUL`,
    );
  }
  if (abstract && !driver.unixAbstract) {
    throw socketError("not-supported", operation, "", `abstract socket names are not supported by the ${driver.name} driver on ${process.platform}`);
  }
  return { path: value, abstract, policyPath: abstract ? value : path.resolve(value) };
}
