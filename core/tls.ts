/**
 * TLS: the options a caller gives, what a connection reports of its session, and the
 * checked form of the options that a driver gets. Checking here is about shape (types,
 * PEM blocks, names, ALPN); whether a key matches its certificate is the driver's check.
 *
 * @module
 */
import { describeValue, formatSocketAddress, parseIp } from "./address.ts";
import type { IpSocketAddress, UnixSocketAddress } from "./address.ts";
import { endsTarget } from "./ends.ts";
import type { ConnectionEnds } from "./ends.ts";
import { socketError } from "./errors.ts";

/**
 * The client side of TLS: `tcp.connect(remote, { tls })` and `connection.startTls()` on a
 * connection made by `connect`.
 *
 * @example Trusting only a test CA
 * ```ts
 * import type { TlsClientOptions } from "./tls.ts";
 * const options: TlsClientOptions = { serverName: "localhost", alpn: ["h2", "http/1.1"] };
 * console.log(options.serverName);
 * ```
 */
export interface TlsClientOptions {
  /**
   * The name sent as SNI and that the server's certificate must name. Default: the
   * hostname connected to when it is a name; with an IP literal, the certificate must
   * name that IP and no SNI is sent.
   */
  serverName?: string;
  /** PEM: when given, only these issuers are trusted; otherwise the runtime's trust store. */
  ca?: string | string[];
  /** PEM: a client certificate (with its chain) for mutual TLS; needs `key`. */
  cert?: string;
  /** PEM: the private key of `cert`. */
  key?: string;
  /** ALPN protocols to offer, in order of preference. */
  alpn?: string[];
}

/**
 * A certificate and its key, in PEM.
 *
 * @example A pair read from files
 * ```ts ignore
 * import type { CertificateAndKey } from "./tls.ts";
 * const pair: CertificateAndKey = { cert: await Deno.readTextFile("c.pem"), key: await Deno.readTextFile("k.pem") };
 * ```
 */
export interface CertificateAndKey {
  /** PEM: the certificate, followed by its chain if any. */
  cert: string;
  /** PEM: its private key. */
  key: string;
}

/**
 * Whether a server asks for a client certificate.
 *
 * @example Asking, but letting clients without one in
 * ```ts
 * import type { ClientCertificateMode } from "./tls.ts";
 * const mode: ClientCertificateMode = "request";
 * console.log(mode);
 * ```
 */
export type ClientCertificateMode = "none" | "request" | "require";

/**
 * The server side of TLS: `tcp.listen({ ..., tls })` and `connection.startTls(options)`
 * on a connection from `accept`.
 *
 * @example A server that requires client certificates from its own CA
 * ```ts ignore
 * import type { TlsServerOptions } from "./tls.ts";
 * const options: TlsServerOptions = { cert, key, ca, clientCertificate: "require" };
 * ```
 */
export interface TlsServerOptions extends CertificateAndKey {
  /** A certificate per server name (SNI); `cert`/`key` serve other names and clients that send none. */
  sni?: Record<string, CertificateAndKey>;
  /** PEM: the issuers trusted for client certificates. */
  ca?: string | string[];
  /**
   * `"none"` (default) asks for no client certificate; `"request"` asks and accepts a
   * client without one, never one with an untrusted certificate; `"require"` refuses a
   * client without a trusted certificate.
   */
  clientCertificate?: ClientCertificateMode;
  /** ALPN protocols, in the server's order of preference. */
  alpn?: string[];
}

/**
 * The verified certificate of the other side.
 *
 * @example Printing who the peer is
 * ```ts ignore
 * const peer = connection.tls?.peerCertificate;
 * if (peer) console.log(peer.subject, peer.subjectAltNames, peer.fingerprint256);
 * ```
 */
export interface PeerCertificate {
  /** RFC 4514 text, most specific first: `"CN=alice,O=Example"`. */
  subject: string;
  /** RFC 4514 text of the issuer. */
  issuer: string;
  /** `"DNS:localhost"`, `"IP:127.0.0.1"`, `"email:a@b.test"`, `"URI:..."`. */
  subjectAltNames: string[];
  /** SHA-256 of the DER: 64 lower-case hex digits. */
  fingerprint256: string;
  /** Start of validity. */
  validFrom: Date;
  /** End of validity. */
  validTo: Date;
  /** The certificate itself. */
  der: Uint8Array;
}

/**
 * What a TLS connection reports: the same fields, filled the same way, on every runtime.
 *
 * @example Checking the negotiated protocol
 * ```ts ignore
 * console.log(connection.tls?.protocol, connection.tls?.alpn);
 * ```
 */
export interface TlsInfo {
  /** The protocol version. */
  protocol: "TLSv1.2" | "TLSv1.3";
  /** The cipher suite's IANA name, such as `TLS_AES_128_GCM_SHA256`. */
  cipher: string;
  /** The ALPN protocol agreed on, or null. */
  alpn: string | null;
  /** The SNI name: sent (client) or received (server); null when none. */
  serverName: string | null;
  /** The verified certificate of the other side; null for a client that sent none. */
  peerCertificate: PeerCertificate | null;
}

/** Client options as a driver gets them: checked, defaults applied. */
export interface CheckedTlsClient {
  readonly side: "client";
  /** The operation a failed handshake is reported under; the driver's (`tcp.connect`) when undefined. */
  readonly operation?: string;
  /** SNI to send; undefined for an IP. */
  readonly serverName: string | undefined;
  /** The name or IP the certificate must match. */
  readonly identity: string;
  readonly ca: string[] | undefined;
  readonly cert: string | undefined;
  readonly key: string | undefined;
  readonly alpn: string[] | undefined;
}

/** Server options as a driver gets them: checked, defaults applied. One object per listener, so a driver may keep state for it. */
export interface CheckedTlsServer {
  readonly side: "server";
  /** The operation a failed handshake is reported under; the driver's (`tcp.accept`) when undefined. */
  readonly operation?: string;
  readonly cert: string;
  readonly key: string;
  /** Lower-case names (`*.example.test` allowed) to their pair. */
  readonly sni: ReadonlyMap<string, CertificateAndKey>;
  readonly ca: string[] | undefined;
  readonly clientCertificate: ClientCertificateMode;
  readonly alpn: string[] | undefined;
}

/** Either side's checked options. */
export type CheckedTls = CheckedTlsClient | CheckedTlsServer;

const CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----/g;
const PRIVATE_KEY = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[A-Za-z0-9+/=\s]+-----END \1-----/;
const SERVER_NAME = /^(?=.{1,253}$)(?:\*\.)?(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;

function fail(operation: string, detail: string): never {
  throw socketError("invalid-argument", operation, "", detail);
}

function checkCertificates(value: unknown, what: string, operation: string): string {
  if (typeof value !== "string") fail(operation, `${what} must be a PEM string, got ${describeValue(value)}`);
  const blocks = value.match(CERTIFICATE);
  if (blocks === null) fail(operation, `${what} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return value;
}

function checkKey(value: unknown, what: string, operation: string): string {
  if (typeof value !== "string") fail(operation, `${what} must be a PEM string, got ${describeValue(value)}`);
  const match = value.match(PRIVATE_KEY);
  if (match === null) fail(operation, `${what} holds no PEM private key (-----BEGIN PRIVATE KEY-----)`);
  if (match[1] === "ENCRYPTED PRIVATE KEY") fail(operation, `${what} is encrypted; give it decrypted`);
  return value;
}

function checkCa(value: unknown, operation: string): string[] | undefined {
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) fail(operation, "tls.ca must not be empty");
  return list.map((pem, i) => checkCertificates(pem, Array.isArray(value) ? `tls.ca[${i}]` : "tls.ca", operation));
}

function checkAlpn(value: unknown, operation: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) fail(operation, `tls.alpn must be an array of protocol names, got ${describeValue(value)}`);
  if (value.length === 0) fail(operation, "tls.alpn must name at least one protocol");
  const encoder = new TextEncoder();
  for (const name of value) {
    if (typeof name !== "string" || name.length === 0 || encoder.encode(name).length > 255) {
      fail(operation, `tls.alpn: each protocol must be a string of 1 to 255 bytes, got ${describeValue(name)}`);
    }
  }
  return [...value];
}

function checkObject(value: unknown, what: string, operation: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(operation, `${what} must be an object, got ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

/**
 * Checks client options. `hostname` is what was connected to (a name or an IP literal), or
 * undefined when unknown (a Unix socket): then `serverName` is required.
 */
export function checkTlsClient(value: unknown, hostname: string | undefined, operation: string): CheckedTlsClient {
  const options = value === true || value === undefined ? {} : checkObject(value, "tls", operation);
  const { serverName } = options;
  if (serverName !== undefined && (typeof serverName !== "string" || (parseIp(serverName) === undefined && (!SERVER_NAME.test(serverName) || serverName.startsWith("*"))))) {
    fail(operation, `tls.serverName must be a host name or an IP address, got ${describeValue(serverName)}`);
  }
  const name = (serverName as string | undefined) ?? hostname;
  if (name === undefined) fail(operation, "tls.serverName is needed: there is no host name to check the certificate against");
  const ip = parseIp(name);
  const cert = options.cert === undefined ? undefined : checkCertificates(options.cert, "tls.cert", operation);
  const key = options.key === undefined ? undefined : checkKey(options.key, "tls.key", operation);
  if ((cert === undefined) !== (key === undefined)) fail(operation, "tls.cert and tls.key go together: give both or neither");
  return {
    side: "client",
    serverName: ip === undefined ? name.replace(/\.$/, "").toLowerCase() : undefined,
    identity: ip === undefined ? name.replace(/\.$/, "").toLowerCase() : ip.address,
    ca: checkCa(options.ca, operation),
    cert,
    key,
    alpn: checkAlpn(options.alpn, operation),
  };
}

/** Checks server options. */
export function checkTlsServer(value: unknown, operation: string): CheckedTlsServer {
  if (value === undefined || value === true) fail(operation, "the server side of TLS needs tls: { cert, key }");
  const options = checkObject(value, "tls", operation);
  const cert = checkCertificates(options.cert, "tls.cert", operation);
  const key = checkKey(options.key, "tls.key", operation);
  const sni = new Map<string, CertificateAndKey>();
  if (options.sni !== undefined) {
    for (const [name, pair] of Object.entries(checkObject(options.sni, "tls.sni", operation))) {
      if (!SERVER_NAME.test(name) || parseIp(name) !== undefined) fail(operation, `tls.sni: ${describeValue(name)} is not a server name`);
      const entry = checkObject(pair, `tls.sni[${JSON.stringify(name)}]`, operation);
      sni.set(name.toLowerCase().replace(/\.$/, ""), {
        cert: checkCertificates(entry.cert, `tls.sni[${JSON.stringify(name)}].cert`, operation),
        key: checkKey(entry.key, `tls.sni[${JSON.stringify(name)}].key`, operation),
      });
    }
  }
  const mode = options.clientCertificate ?? "none";
  if (mode !== "none" && mode !== "request" && mode !== "require") {
    fail(operation, `tls.clientCertificate must be "none", "request" or "require", got ${describeValue(mode)}`);
  }
  const ca = checkCa(options.ca, operation);
  if (mode !== "none" && ca === undefined) fail(operation, `tls.clientCertificate "${mode}" needs tls.ca, the issuers trusted for client certificates`);
  return { side: "server", cert, key, sni, ca, clientCertificate: mode, alpn: checkAlpn(options.alpn, operation) };
}

/** The pair for a server name: an exact entry, then a wildcard one level up, then undefined. */
export function pairForName(sni: ReadonlyMap<string, CertificateAndKey>, name: string): CertificateAndKey | undefined {
  const lower = name.toLowerCase().replace(/\.$/, "");
  const exact = sni.get(lower);
  if (exact !== undefined) return exact;
  const dot = lower.indexOf(".");
  return dot === -1 ? undefined : sni.get(`*${lower.slice(dot)}`);
}

/**
 * What every driver's TLS upgrade reports its failures under: the connection's ends, the
 * operation (`startTls`, else `tcp.connect` / `tcp.accept`), and the target (a client names
 * the server it asked for, the name the certificate had to match).
 */
export function tlsUpgradeLabels<A extends IpSocketAddress | UnixSocketAddress>(
  raw: { localAddress: A; remoteAddress: A },
  options: CheckedTls,
): { ends: ConnectionEnds<A>; operation: string; target: string } {
  const ends: ConnectionEnds<A> = {
    protocol: "path" in raw.localAddress ? "unix" : "tcp",
    localAddress: raw.localAddress,
    remoteAddress: raw.remoteAddress,
  };
  const operation = options.operation ?? (options.side === "client" ? `${ends.protocol}.connect` : `${ends.protocol}.accept`);
  const remote = ends.remoteAddress;
  const target = options.side === "client" && "port" in remote
    ? formatSocketAddress({ address: options.identity, port: remote.port })
    : endsTarget(ends);
  return { ends, operation, target };
}
