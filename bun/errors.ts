/**
 * Bun's errors to SocketErrors: Node-style errno `code`, with a `DNS_` prefix from the resolver.
 *
 * @module
 */
import { closeSync, openSync } from "node:fs";
import { codeFromErrno, errnoOf } from "../core/errno.ts";
import { SocketError, socketError } from "../core/errors.ts";

/** Maps a Bun error (Node-style `code`, `DNS_` prefix for the resolver) to a SocketError. */
export function bunError(error: unknown, operation: string, target: string): SocketError {
  if (error instanceof SocketError) return error;
  let errno = errnoOf(error)?.replace(/^DNS_/, "");
  // Bun reports a connect that got no socket because no file descriptor was left as
  // ECONNREFUSED, and such a listen with no errno at all ("Failed to listen at ..."). If the
  // process cannot open a file either, that was most likely the reason: a guess, made after
  // the fact, that a descriptor freed or taken in between can get wrong.
  if ((errno === undefined || errno === "ECONNREFUSED") && /\.(connect|listen)$/.test(operation)) {
    errno = descriptorsExhausted() ?? errno;
  }
  const text = error instanceof Error ? error.message : String(error);
  // Bun's socket messages ("Failed to connect") leave the errno out.
  const message = errno !== undefined && !text.includes(errno) ? `${text} (${errno})` : text;
  return socketError(codeFromErrno(errno), operation, target, message, error);
}

/** EMFILE or ENFILE when no file descriptor can be had right now. */
function descriptorsExhausted(): "EMFILE" | "ENFILE" | undefined {
  try {
    closeSync(openSync("/dev/null", "r"));
    return undefined;
  } catch (error) {
    const errno = errnoOf(error);
    return errno === "EMFILE" || errno === "ENFILE" ? errno : undefined;
  }
}
