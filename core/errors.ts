/**
 * The one error type of unisock, with the error codes of WASI sockets.
 *
 * @module
 */

/**
 * Every code a {@linkcode SocketError} can carry: the `error-code` set of WASI sockets.
 *
 * @example Check a code
 * ```ts
 * import { SOCKET_ERROR_CODES } from "./errors.ts";
 * console.log(SOCKET_ERROR_CODES.includes("timeout")); // true
 * ```
 */
export const SOCKET_ERROR_CODES = [
  "access-denied",
  "not-supported",
  "invalid-argument",
  "out-of-memory",
  "timeout",
  "invalid-state",
  "address-not-bindable",
  "address-in-use",
  "remote-unreachable",
  "connection-refused",
  "connection-reset",
  "connection-aborted",
  "datagram-too-large",
  "name-unresolvable",
  "temporary-resolver-failure",
  "permanent-resolver-failure",
  "unknown",
  "tls-certificate-untrusted",
  "tls-certificate-name-mismatch",
  "tls-handshake-failed",
] as const;

/**
 * The code of a {@linkcode SocketError}: one of {@linkcode SOCKET_ERROR_CODES}.
 *
 * @example Branch on a code
 * ```ts
 * import type { SocketErrorCode } from "./errors.ts";
 * const code: SocketErrorCode = "connection-refused";
 * console.log(code === "connection-refused");
 * ```
 */
export type SocketErrorCode = typeof SOCKET_ERROR_CODES[number];

const DESCRIPTIONS: Record<SocketErrorCode, string> = {
  "access-denied": "access denied",
  "not-supported": "not supported on this runtime",
  "invalid-argument": "invalid argument",
  "out-of-memory": "out of memory",
  "timeout": "timed out",
  "invalid-state": "invalid state",
  "address-not-bindable": "address not bindable",
  "address-in-use": "address in use",
  "remote-unreachable": "remote unreachable",
  "connection-refused": "connection refused",
  "connection-reset": "connection reset by peer",
  "connection-aborted": "connection aborted",
  "datagram-too-large": "datagram too large",
  "name-unresolvable": "name does not resolve",
  "temporary-resolver-failure": "temporary resolver failure",
  "permanent-resolver-failure": "permanent resolver failure",
  "unknown": "unknown error",
  "tls-certificate-untrusted": "certificate not trusted",
  "tls-certificate-name-mismatch": "certificate does not name the server",
  "tls-handshake-failed": "TLS handshake failed",
};

/**
 * The error every unisock operation fails with. `code` says what went wrong in the
 * same words on every runtime; `message` names the operation and the address; `cause`
 * holds the runtime's own error, when there was one.
 *
 * @example Tell a refused connection apart
 * ```ts
 * import { SocketError } from "./errors.ts";
 * const error = new SocketError("connection-refused", "tcp.connect 127.0.0.1:1: connection refused");
 * if (error instanceof SocketError && error.code === "connection-refused") console.log("nobody listens");
 * ```
 */
export class SocketError extends Error {
  /** What went wrong, as a WASI sockets error code. */
  readonly code: SocketErrorCode;

  /**
   * Makes an error with a code and a message; `options.cause` keeps the runtime's error.
   *
   * @param code The WASI sockets error code.
   * @param message What failed, naming the operation and the address.
   * @param options `cause`: the underlying error.
   */
  constructor(code: SocketErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SocketError";
    this.code = code;
  }
}

/**
 * Builds a {@linkcode SocketError} whose message reads `operation target: detail`.
 *
 * @param code The error code.
 * @param operation The operation, such as `tcp.connect`.
 * @param target The address or name it was applied to ("" when none).
 * @param detail What went wrong; the code's description when omitted.
 * @param cause The runtime's own error, if any.
 * @returns The error, ready to throw.
 */
export function socketError(
  code: SocketErrorCode,
  operation: string,
  target: string,
  detail?: string,
  cause?: unknown,
): SocketError {
  const where = target === "" ? operation : `${operation} ${target}`;
  const options = cause === undefined ? undefined : { cause };
  return new SocketError(code, `${where}: ${detail ?? DESCRIPTIONS[code]}`, options);
}

/** The description of a code, as used in messages. */
export function describeCode(code: SocketErrorCode): string {
  return DESCRIPTIONS[code];
}

/** True when `value` is one of the codes. */
export function isSocketErrorCode(value: unknown): value is SocketErrorCode {
  return typeof value === "string" && (SOCKET_ERROR_CODES as readonly string[]).includes(value);
}
