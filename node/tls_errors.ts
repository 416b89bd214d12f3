/**
 * The error codes `node:tls` reports (on Node, and in Deno's and Bun's `node:tls`) mapped
 * to the three TLS codes of unisock.
 *
 * @module
 */
import type { SocketErrorCode } from "../core/errors.ts";

/** OpenSSL's verification results that mean "no chain to a trusted issuer, or not valid now". */
const UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_REVOKED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_CHAIN_TOO_LONG",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
  "HOSTNAME_MISMATCH_UNTRUSTED",
]);

/**
 * The TLS code for an error code of `node:tls`, or undefined when it is not a TLS error
 * (an errno such as ECONNRESET, mapped as for plaintext).
 *
 * @param code `error.code` as `node:tls` reports it.
 * @returns The TLS code, or undefined.
 */
export function tlsErrorCode(code: string | undefined): SocketErrorCode | undefined {
  if (code === undefined) return undefined;
  if (UNTRUSTED.has(code)) return "tls-certificate-untrusted";
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "HOSTNAME_MISMATCH") return "tls-certificate-name-mismatch";
  if (code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_") || code === "EPROTO") return "tls-handshake-failed";
  return undefined;
}
