/**
 * Bun's errors to SocketErrors: Node-style errno `code`, with a `DNS_` prefix from the resolver.
 *
 * @module
 */
import { codeFromErrno, errnoOf } from "../core/errno.ts";
import { SocketError, socketError } from "../core/errors.ts";

/** Maps a Bun error (Node-style `code`, `DNS_` prefix for the resolver) to a SocketError. */
export function bunError(error: unknown, operation: string, target: string): SocketError {
  if (error instanceof SocketError) return error;
  const errno = errnoOf(error)?.replace(/^DNS_/, "");
  const text = error instanceof Error ? error.message : String(error);
  // Bun's socket messages ("Failed to connect") leave the errno out.
  const message = errno !== undefined && !text.includes(errno) ? `${text} (${errno})` : text;
  return socketError(codeFromErrno(errno), operation, target, message, error);
}
