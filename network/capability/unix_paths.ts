/**
 * Unix socket paths for the rules: patterns (`/run/app.sock`, `/run/app/*`, `@name` for
 * an abstract name) and the real location of a path. A request is matched on the path
 * with every symlink resolved, so a link (or `..`) inside an allowed folder cannot lead
 * out of it; a rule's fixed part is resolved the same way, when it exists.
 *
 * @module
 */
import fs from "node:fs";
import path from "node:path";

/** A compiled `unix:` pattern. */
export interface UnixPattern {
  /** The pattern with its fixed directory resolved; an abstract name starts with NUL. */
  readonly text: string;
  /** Set when the pattern has `*` (within a path segment) or `**` (across segments). */
  readonly glob: RegExp | undefined;
}

/**
 * Parses what follows `unix:` in a rule.
 *
 * @param text An absolute path, or `@name` for a Linux abstract name; `*` and `**` allowed.
 * @returns The pattern, or what is wrong with it.
 */
export function parseUnixPattern(text: string): UnixPattern | { problem: string } {
  if (text.includes("\0")) return { problem: "a path cannot hold NUL (write an abstract name as @name)" };
  if (text.startsWith("@")) {
    if (text.length === 1) return { problem: "an abstract name needs a name after @" };
    const name = `\0${text.slice(1)}`;
    return { text: name, glob: globOf(name) };
  }
  if (!text.startsWith("/")) return { problem: `${JSON.stringify(text)} is not an absolute path (or @name)` };
  const normal = path.resolve(text);
  const star = normal.indexOf("*");
  if (star === -1) return { text: realLocation(normal) ?? normal, glob: undefined };
  // The folders before the first `*` are fixed: resolve them as a request's would be.
  const fixed = normal.slice(0, normal.lastIndexOf("/", star) + 1);
  const realFixed = realLocation(fixed) ?? fixed;
  const joined = `${realFixed.endsWith("/") ? realFixed : `${realFixed}/`}${normal.slice(fixed.length)}`;
  return { text: joined, glob: globOf(joined) };
}

function globOf(pattern: string): RegExp | undefined {
  if (!pattern.includes("*")) return undefined;
  const source = pattern
    .split("**")
    .map((part) => part.split("*").map((piece) => piece.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*"))
    .join(".*");
  return new RegExp(`^${source}$`, "s");
}

/**
 * True when a request's real path matches the pattern.
 *
 * @param pattern The compiled pattern.
 * @param real The request's real location.
 */
export function matchesUnix(pattern: UnixPattern, real: string): boolean {
  return pattern.glob === undefined ? pattern.text === real : pattern.glob.test(real);
}

/**
 * Where `location` really is: its real path when it exists; else the real path of its
 * nearest existing folder with the rest appended (parts that do not exist cannot be
 * links). An abstract name is itself. Undefined when it cannot be told (a dangling or
 * looping link, a folder we may not look into): such a path matches no rule.
 *
 * @param location An absolute, normalised path, or an abstract name.
 * @returns The real location, or undefined.
 */
export function realLocation(location: string): string | undefined {
  if (location.startsWith("\0")) return location;
  try {
    return fs.realpathSync(location);
  } catch (error) {
    if (!isMissing(error)) return undefined;
  }
  try {
    fs.lstatSync(location);
    return undefined; // It is there, yet has no real path: a dangling link.
  } catch (error) {
    if (!isMissing(error)) return undefined;
  }
  const parent = path.dirname(location);
  if (parent === location) return location;
  const realParent = realLocation(parent);
  return realParent === undefined ? undefined : path.join(realParent, path.basename(location));
}

function isMissing(error: unknown): boolean {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  return code === "ENOENT" || code === "ENOTDIR";
}
