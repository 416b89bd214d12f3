/**
 * TLS for the `unisock` tool: the flags `--ca`, `--cert`, `--key` and `--client-cert`,
 * the files they name (read here), which side of a command gets them, and the line a
 * command prints about a TLS session.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import type { Connection, TlsClientOptions, TlsServerOptions } from "../mod.ts";
import { UsageError } from "./args.ts";
import type { ArgsSpec, Endpoint, ParsedArgs } from "./args.ts";

/**
 * The TLS flags, for a command's `ArgsSpec`.
 *
 * @example Using `TLS_FLAGS`
 * ```ts
 * import { TLS_FLAGS } from "./tls.ts";
 * console.log(Object.keys(TLS_FLAGS)); // ["--ca", "--cert", "--key", "--client-cert"]
 * ```
 */
export const TLS_FLAGS: ArgsSpec["flags"] = {
  "--ca": "value",
  "--cert": "value",
  "--key": "value",
  "--client-cert": "value",
};

const FLAG_NAMES = Object.keys(TLS_FLAGS);

/**
 * Whether an endpoint is `tls://HOST:PORT`.
 *
 * @param endpoint A parsed endpoint.
 * @returns True for TLS.
 *
 * @example Using `isTls`
 * ```ts
 * import { parseEndpoint } from "./args.ts";
 * import { isTls } from "./tls.ts";
 * console.log(isTls(parseEndpoint("tls://localhost:8443"))); // true
 * ```
 */
export function isTls(endpoint: Endpoint): boolean {
  return endpoint.transport === "tcp" && endpoint.tls;
}

/**
 * Refuses TLS flags on a command line with no `tls://` address.
 *
 * @param args The parsed arguments.
 * @throws {UsageError} A TLS flag was given.
 *
 * @example Using `refuseTlsFlags`
 * ```ts
 * import { refuseTlsFlags } from "./tls.ts";
 * refuseTlsFlags({ positionals: [], flags: new Map(), help: false, network: undefined });
 * ```
 */
export function refuseTlsFlags(args: ParsedArgs): void {
  const given = FLAG_NAMES.find((flag) => args.flags.has(flag));
  if (given !== undefined) throw new UsageError(`${given} is for a tls://HOST:PORT address`);
}

/**
 * Reads a PEM file named by a flag, as text. Whether it holds PEM is the library's check.
 *
 * @param flag The flag, for the message.
 * @param file The path, relative to the working directory.
 * @returns The file's text.
 * @throws {UsageError} The file cannot be read; the message names it.
 *
 * @example Using `readPemFile`
 * ```ts ignore
 * import { readPemFile } from "./tls.ts";
 * const ca = readPemFile("--ca", "ca.pem");
 * ```
 */
export function readPemFile(flag: string, file: string): string {
  if (file === "") throw new UsageError(`${flag} needs a file name`);
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why = code === "ENOENT"
      ? "no such file"
      : code === "EACCES" || code === "EPERM"
      ? "permission denied"
      : code === "EISDIR"
      ? "is a directory"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new UsageError(`${flag} ${file}: cannot read it: ${why}`);
  }
}

/**
 * The client side's options from `--ca`, `--cert` and `--key` (a client certificate);
 * with none of them, the runtime's trust store. The server name is left to the library:
 * the host connected to.
 *
 * @param args The parsed arguments.
 * @param options `withCertificate: false` when `--cert`/`--key` belong to another side
 *   (both sides of `proxy` are TLS).
 * @returns The options for `tcp.connect`.
 * @throws {UsageError} `--cert` without `--key` or the other way round, or a file that cannot be read.
 *
 * @example Using `clientTls`
 * ```ts ignore
 * import { clientTls } from "./tls.ts";
 * const tls = clientTls(args);
 * ```
 */
export function clientTls(args: ParsedArgs, options: { withCertificate?: boolean } = {}): TlsClientOptions {
  const tls: TlsClientOptions = {};
  const ca = args.flags.get("--ca");
  if (ca !== undefined) tls.ca = readPemFile("--ca", ca);
  if (options.withCertificate === false) return tls;
  const cert = args.flags.get("--cert");
  const key = args.flags.get("--key");
  if ((cert === undefined) !== (key === undefined)) throw new UsageError("--cert and --key go together: give both or neither");
  if (cert !== undefined && key !== undefined) {
    tls.cert = readPemFile("--cert", cert);
    tls.key = readPemFile("--key", key);
  }
  return tls;
}

/**
 * The server side's options: `--cert` and `--key` (required), and `--client-cert
 * request|require` with `--ca`, the issuers trusted for client certificates.
 *
 * @param args The parsed arguments.
 * @param options `caIsShared: true` when `--ca` may also serve another side (both sides of
 *   `proxy` are TLS): then `--ca` without `--client-cert` is not a mistake.
 * @returns The options for `tcp.listen`.
 * @throws {UsageError} No `--cert` or `--key`; a bad `--client-cert`; `--client-cert`
 *   without `--ca` or `--ca` without `--client-cert`; a file that cannot be read.
 *
 * @example Using `serverTls`
 * ```ts ignore
 * import { serverTls } from "./tls.ts";
 * const tls = serverTls(args);
 * ```
 */
export function serverTls(args: ParsedArgs, options: { caIsShared?: boolean } = {}): TlsServerOptions {
  const cert = args.flags.get("--cert");
  const key = args.flags.get("--key");
  if (cert === undefined || key === undefined) throw new UsageError("a tls:// server needs --cert FILE and --key FILE");
  const mode = args.flags.get("--client-cert") ?? "none";
  if (mode !== "none" && mode !== "request" && mode !== "require") {
    throw new UsageError(`--client-cert takes request or require, got ${JSON.stringify(mode)}`);
  }
  const ca = args.flags.get("--ca");
  if (mode !== "none" && ca === undefined) throw new UsageError(`--client-cert ${mode} needs --ca FILE, the issuers trusted for client certificates`);
  if (mode === "none" && ca !== undefined && options.caIsShared !== true) {
    throw new UsageError("--ca on a tls:// server names the issuers of client certificates: give --client-cert request|require too");
  }
  const tls: TlsServerOptions = { cert: readPemFile("--cert", cert), key: readPemFile("--key", key) };
  if (mode !== "none" && ca !== undefined) {
    tls.ca = readPemFile("--ca", ca);
    tls.clientCertificate = mode;
  }
  return tls;
}

/**
 * Refuses `--client-cert` where no TLS server is.
 *
 * @param args The parsed arguments.
 * @throws {UsageError} `--client-cert` was given.
 *
 * @example Using `refuseClientCert`
 * ```ts
 * import { refuseClientCert } from "./tls.ts";
 * refuseClientCert({ positionals: [], flags: new Map(), help: false, network: undefined });
 * ```
 */
export function refuseClientCert(args: ParsedArgs): void {
  if (args.flags.has("--client-cert")) throw new UsageError("--client-cert is for a TLS server (listen tls://... or proxy tls://... TO)");
}

/**
 * What a TLS session is, in one line: protocol, cipher suite, the other side, and its
 * certificate (subject and the first 16 hex digits of its SHA-256 fingerprint).
 *
 * @param conn A TLS connection.
 * @param peer `to NAME` (on a client) or `from ADDRESS` (on a server).
 * @param side Which side `conn` is: a server's peer is a client, whose certificate is
 *   optional (`no client certificate`).
 * @returns E.g. `TLSv1.3 TLS_AES_128_GCM_SHA256 to localhost, certificate CN=localhost (sha256 5d3f0c...)`;
 *   an empty string for a plaintext connection.
 *
 * @example Using `describeTls`
 * ```ts ignore
 * import { describeTls } from "./tls.ts";
 * io.log(describeTls(conn, "to localhost", "client"));
 * ```
 */
export function describeTls(conn: Connection, peer: string, side: "client" | "server"): string {
  const tls = conn.tls;
  if (tls === undefined) return "";
  const certificate = tls.peerCertificate;
  const who = side === "server" ? "client certificate" : "certificate";
  const identity = certificate === null
    ? `no ${who}`
    : `${who} ${certificate.subject} (sha256 ${certificate.fingerprint256.slice(0, 16)})`;
  return `${tls.protocol} ${tls.cipher} ${peer}, ${identity}`;
}
