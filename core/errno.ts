/**
 * Errno names (as Node and Bun report them in `error.code`) to WASI error codes.
 * Shared by every driver whose runtime speaks errno.
 *
 * @module
 */
import type { SocketErrorCode } from "./errors.ts";

const ERRNO_CODES: Record<string, SocketErrorCode> = {
  EACCES: "access-denied",
  EPERM: "access-denied",
  ENOTSUP: "not-supported",
  EOPNOTSUPP: "not-supported",
  EAFNOSUPPORT: "not-supported",
  EPROTONOSUPPORT: "not-supported",
  EINVAL: "invalid-argument",
  ENAMETOOLONG: "invalid-argument",
  ERR_INVALID_ARG_TYPE: "invalid-argument",
  ERR_INVALID_ARG_VALUE: "invalid-argument",
  ERR_SOCKET_BAD_PORT: "invalid-argument",
  ERR_OUT_OF_RANGE: "invalid-argument",
  ENOMEM: "out-of-memory",
  ENOBUFS: "out-of-memory",
  ETIMEDOUT: "timeout",
  EISCONN: "invalid-state",
  ENOTCONN: "invalid-state",
  EBADF: "invalid-state",
  ERR_SOCKET_CLOSED: "invalid-state",
  ERR_STREAM_DESTROYED: "invalid-state",
  ERR_STREAM_WRITE_AFTER_END: "invalid-state",
  ERR_SERVER_NOT_RUNNING: "invalid-state",
  EADDRNOTAVAIL: "address-not-bindable",
  EADDRINUSE: "address-in-use",
  EHOSTUNREACH: "remote-unreachable",
  ENETUNREACH: "remote-unreachable",
  ENETDOWN: "remote-unreachable",
  EHOSTDOWN: "remote-unreachable",
  ECONNREFUSED: "connection-refused",
  ENOENT: "connection-refused",
  ECONNRESET: "connection-reset",
  EPIPE: "connection-reset",
  ECONNABORTED: "connection-aborted",
  ECANCELED: "connection-aborted",
  EMSGSIZE: "datagram-too-large",
  ENOTFOUND: "name-unresolvable",
  ENODATA: "name-unresolvable",
  EAI_NONAME: "name-unresolvable",
  EAI_NODATA: "name-unresolvable",
  EAI_AGAIN: "temporary-resolver-failure",
  ESERVFAIL: "temporary-resolver-failure",
  ETIMEOUT: "temporary-resolver-failure",
  ECONNREFUSED_DNS: "temporary-resolver-failure",
  EAI_FAIL: "permanent-resolver-failure",
  EREFUSED: "permanent-resolver-failure",
  EFORMERR: "permanent-resolver-failure",
  ENOTIMP: "permanent-resolver-failure",
  EBADRESP: "permanent-resolver-failure",
  EBADNAME: "invalid-argument",
};

/**
 * The WASI code for an errno name such as `ECONNREFUSED`; `unknown` when unmapped.
 *
 * @param errno The errno name, as in `error.code` of Node and Bun.
 * @returns The matching WASI error code.
 */
export function codeFromErrno(errno: string | undefined): SocketErrorCode {
  if (errno === undefined) return "unknown";
  return ERRNO_CODES[errno] ?? "unknown";
}

/** The `code` property of an error-like value, if it is a string. */
export function errnoOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}
