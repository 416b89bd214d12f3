/**
 * The errors of the Sockets API: `TypeError`s whose message begins `SocketError: `, as
 * the WinterTC draft says, carrying the unisock `code` and the `SocketError` as `cause`.
 *
 * @module
 */
import { SocketError, socketError } from "../core/errors.ts";
import type { SocketErrorCode } from "../core/errors.ts";

/**
 * The error every {@linkcode Socket} operation fails with: a `TypeError` (as the Sockets
 * API draft asks) whose message begins `SocketError: ` and whose `code` is unisock's.
 *
 * @example Branch on the code of a failed connection
 * ```ts ignore
 * import { connect, SocketsApiError } from "@unisock/unisock/sockets";
 * const socket = connect("127.0.0.1:1");
 * try {
 *   await socket.opened;
 * } catch (error) {
 *   if (error instanceof SocketsApiError) console.log(error.code); // "connection-refused"
 * }
 * ```
 */
export class SocketsApiError extends TypeError {
  /** What went wrong, in unisock's words (`connection-refused`, `tls-certificate-untrusted`, ...). */
  readonly code: SocketErrorCode;

  /**
   * Makes the error; `message` gets the `SocketError: ` prefix.
   *
   * @param code The unisock error code.
   * @param message What failed, naming the operation and the address.
   * @param options `cause`: the `SocketError` (or the value) this one stands for.
   */
  constructor(code: SocketErrorCode, message: string, options?: { cause?: unknown }) {
    super(`SocketError: ${message}`, options);
    this.code = code;
  }
}

/** `error` as the Sockets API gives it: a `SocketsApiError` (a `SocketError` kept as `cause`). */
export function toSocketsError(error: unknown, operation: string, target: string): SocketsApiError {
  if (error instanceof SocketsApiError) return error;
  if (error instanceof SocketError) return new SocketsApiError(error.code, error.message, { cause: error });
  const detail = error instanceof Error ? error.message : String(error);
  return new SocketsApiError("unknown", `${operation} ${target}: ${detail}`, { cause: error });
}

/** A new `SocketsApiError` with a message in unisock's form (`operation target: detail`). */
export function socketsError(code: SocketErrorCode, operation: string, target: string, detail: string): SocketsApiError {
  return toSocketsError(socketError(code, operation, target, detail), operation, target);
}
