/**
 * Deno's errors to SocketErrors: by errno `code` when Deno gives one, else by class.
 *
 * @module
 */
import { codeFromErrno, errnoOf } from "../core/errno.ts";
import { SocketError, socketError } from "../core/errors.ts";
import type { SocketErrorCode } from "../core/errors.ts";

const ERROR_CLASS_CODES: Record<string, SocketErrorCode> = {
  ConnectionRefused: "connection-refused",
  ConnectionReset: "connection-reset",
  ConnectionAborted: "connection-aborted",
  BrokenPipe: "connection-reset",
  NotConnected: "invalid-state",
  AddrInUse: "address-in-use",
  AddrNotAvailable: "address-not-bindable",
  TimedOut: "timeout",
  PermissionDenied: "access-denied",
  NotCapable: "access-denied",
  BadResource: "invalid-state",
  Interrupted: "invalid-state",
  NetworkUnreachable: "remote-unreachable",
  InvalidData: "invalid-argument",
  NotFound: "connection-refused",
};

/** Maps a Deno error to a SocketError: by errno `code` when it has one, else by class. */
export function denoError(error: unknown, operation: string, target: string): SocketError {
  if (error instanceof SocketError) return error;
  let code = codeFromErrno(errnoOf(error));
  if (code === "unknown" && error instanceof Error) code = ERROR_CLASS_CODES[error.name] ?? "unknown";
  const message = error instanceof Error ? error.message : String(error);
  return socketError(code, operation, target, message, error);
}
