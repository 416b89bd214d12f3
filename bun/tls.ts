/**
 * STARTTLS on Bun's own sockets (`Bun.connect`, `Bun.listen`) with Bun's native
 * `socket.upgradeTLS`: unlike `node:tls` over a stream around the socket, it keeps a
 * half-closed session going (the other side can still answer after a close_notify).
 * `connection.tls` is filled as the `node:tls` path fills it, and failures map to the same
 * codes.
 *
 * @module
 */
import type { X509Certificate } from "node:crypto";
import tls from "node:tls";
import type { IpSocketAddress, UnixSocketAddress } from "../core/address.ts";
import type { RawConnection } from "../core/driver.ts";
import { socketError } from "../core/errors.ts";
import { pairForName, tlsUpgradeLabels } from "../core/tls.ts";
import type { CertificateAndKey, CheckedTls, CheckedTlsClient, CheckedTlsServer, PeerCertificate, TlsInfo } from "../core/tls.ts";
import { parseIp } from "../core/address.ts";
import { clientHelloRecordSize, clientHelloServerName } from "../node/client_hello.ts";
import { describeCertificate } from "../node/peer_certificate.ts";
import { handshakeError } from "../node/tls.ts";
import { tlsErrorCode } from "../node/tls_errors.ts";
import type { BunSocket, BunSocketHandler, BunTlsOptions } from "./bun_api.ts";
import { BunConnection, HANDLERS } from "./connection.ts";
import type { AnyBunSocket } from "./connection.ts";

type Address = IpSocketAddress | UnixSocketAddress;

/** TLS alert descriptions (RFC 8446 §6). */
const ALERT_UNKNOWN_CA = 48;
const ALERT_CERTIFICATE_REQUIRED = 116;

/** How long a server waits for a client to finish its handshake (as the `node:tls` path). */
const HANDSHAKE_TIMEOUT_MS = 30_000;

/**
 * The driver's `startTls` for a `BunConnection` (see the module doc).
 *
 * @example Upgrading a connection from `Bun.connect`
 * ```ts ignore
 * const secure = await bunStartTls(raw, checkTlsClient({ ca }, "localhost", "startTls"));
 * ```
 *
 * @param raw The plaintext connection; spent either way.
 * @param options Checked options; `side` says client or server.
 * @param signal Aborts the handshake: the connection is closed and the promise rejects with `signal.reason`.
 * @returns The encrypted connection, handshake done and peer verified.
 */
export function bunStartTls<A extends Address>(
  raw: BunConnection<A>,
  options: CheckedTls,
  signal?: AbortSignal,
): Promise<RawConnection<A>> {
  const { ends, operation, target } = tlsUpgradeLabels(raw, options);
  if (signal?.aborted) {
    raw.close();
    return Promise.reject(signal.reason);
  }
  return new Promise<RawConnection<A>>((resolve, reject) => {
    let done = false;
    /** The socket handed to TLS, once it is. */
    let under: AnyBunSocket | undefined;
    /** `upgradeTLS`'s two sockets: the one still under TLS (ciphertext), and the TLS one. */
    let cipherSocket: AnyBunSocket | undefined;
    let tlsSocket: AnyBunSocket | undefined;
    let secure: BunConnection<A> | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const settle = (): boolean => {
      if (done) return false;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      return true;
    };
    const closeAll = (): void => {
      if (tlsSocket !== undefined) tlsSocket.terminate();
      else if (under !== undefined) under.terminate();
      else raw.close();
    };
    const fail = (error: unknown): void => {
      if (!settle()) return;
      closeAll();
      reject(handshakeError(error, operation, target));
    };
    const onAbort = (): void => {
      if (!settle()) return;
      closeAll();
      reject(signal?.reason);
    };
    const closedEarly = () => socketError("tls-handshake-failed", "tls", "", "the peer closed the connection during the TLS handshake");
    signal?.addEventListener("abort", onAbort, { once: true });
    if (options.side === "server") {
      timer = setTimeout(
        () => fail(socketError("tls-handshake-failed", "tls", "", `TLS handshake timed out: not done within ${HANDSHAKE_TIMEOUT_MS} ms`)),
        HANDSHAKE_TIMEOUT_MS,
      );
    }

    /** The client is refused after its handshake: an alert in the clear under TLS (as the `node:tls` path's `refuse`), then the end. */
    const refuse = (description: number, error: unknown): void => {
      if (!settle()) return;
      try {
        cipherSocket?.write(Uint8Array.of(21, 3, 3, 0, 2, 2, description));
        cipherSocket?.end();
      } catch {
        // Closed already.
      }
      const socket = tlsSocket;
      setTimeout(() => socket?.terminate(), 1000);
      reject(handshakeError(error, operation, target));
    };

    const onHandshake = (socket: AnyBunSocket, success: boolean, authorizationError: Error | null): void => {
      if (done || secure === undefined) return;
      let serverName: string | null;
      if (options.side === "client") {
        // `success` only says the handshake finished; the chain's verdict is `authorizationError`.
        if (!success || authorizationError !== null || socket.authorized === false) {
          return fail(authorizationError ?? new Error("TLS handshake failed"));
        }
        const mismatch = identityError(socket, options);
        if (mismatch !== undefined) return fail(mismatch);
        serverName = options.serverName ?? null;
      } else {
        // A server that asked for no certificate may still be told of an error: not its concern.
        if (!success) return fail(authorizationError ?? new Error("TLS handshake failed"));
        if (options.clientCertificate !== "none") {
          const presented = (socket.getPeerX509Certificate?.() ?? undefined) !== undefined;
          if (presented && socket.authorized !== true) {
            // OpenSSL's name for the reason, as node:tls gives it (INVALID_PURPOSE, ...).
            const reason = (authorizationError as { code?: string } | null)?.code ?? String(authorizationError);
            const code = tlsErrorCode(reason) ?? "tls-certificate-untrusted";
            return refuse(ALERT_UNKNOWN_CA, socketError(code, "tls", "", `the client's certificate is not trusted (${reason})`));
          }
          if (!presented && options.clientCertificate === "require") {
            return refuse(
              ALERT_CERTIFICATE_REQUIRED,
              socketError("tls-handshake-failed", "tls", "", "the client sent no certificate and one is required"),
            );
          }
        }
        serverName = socket.getServername?.() || peeked || null;
      }
      let info: TlsInfo;
      try {
        info = tlsInfo(socket, serverName);
      } catch (error) {
        // Inside Bun's handler: a throw would be uncaught.
        return fail(error);
      }
      if (!settle()) return;
      secure.secured(info);
      resolve(secure);
    };

    const handlers: BunSocketHandler<BunConnection<Address>> = {
      ...HANDLERS,
      open: (socket) => {
        tlsSocket = socket;
        secure = new BunConnection(socket, ends);
        socket.data = secure;
      },
      handshake: onHandshake,
      end: (socket) => {
        // A client that gives up mid-handshake sends FIN: that ends the handshake.
        if (!done) fail(closedEarly());
        socket.data?.onEnd();
      },
      close: (socket, error) => {
        socket.data?.onClose(error);
        if (!done) fail(error ?? closedEarly());
      },
    };

    let peeked: string | undefined;
    const start = (prefix: Uint8Array[], pair: CertificateAndKey | undefined): void => {
      if (done) return;
      const handed = raw.handOver();
      under = handed.socket;
      const initial = concat([...prefix, ...handed.buffered]);
      try {
        const [cipher] = handed.socket.upgradeTLS({
          tls: options.side === "client" ? clientOptions(options) : serverOptions(options, pair),
          socket: handlers,
          initialData: initial.length > 0 ? initial : undefined,
        });
        cipherSocket = cipher;
      } catch (error) {
        // The TLS library refused to start (options it would not load): nothing may be left open.
        fail(error);
      }
    };

    if (options.side === "server" && options.sni.size > 0) {
      // Bun picks no certificate by name: the name is read out of the ClientHello first, and
      // the bytes read are the first TLS gets.
      readClientHello(raw).then(({ chunks, serverName }) => {
        peeked = serverName;
        const pair = serverName === undefined ? undefined : pairForName(options.sni, serverName);
        start(chunks, pair);
      }, fail);
    } else {
      start([], undefined);
    }
  });
}

/** The client's certificate check beyond the chain: the name (or IP) asked for, as `node:tls` checks it. */
function identityError(socket: AnyBunSocket, options: CheckedTlsClient): Error | undefined {
  const legacy = socket.getPeerCertificate?.();
  if (legacy !== null && typeof legacy === "object" && "subject" in legacy) {
    return tls.checkServerIdentity(options.identity, legacy as tls.PeerCertificate);
  }
  return certificateIdentityError(socket.getPeerX509Certificate?.() ?? undefined, options);
}

/**
 * The server's certificate against the identity asked for (the name, or the IP address),
 * as `tls.checkServerIdentity` reports it: its error, or undefined when it matches.
 *
 * @example
 * ```ts ignore
 * const mismatch = certificateIdentityError(socket.getPeerX509Certificate(), options);
 * ```
 */
export function certificateIdentityError(certificate: X509Certificate | undefined, options: CheckedTlsClient): Error | undefined {
  if (certificate === undefined) return socketError("tls-certificate-untrusted", "tls", "", "the server sent no certificate");
  const ip = parseIp(options.identity) !== undefined;
  const matched = ip ? certificate.checkIP(options.identity) : certificate.checkHost(options.identity);
  if (matched !== undefined) return undefined;
  return Object.assign(
    new Error(`Hostname/IP does not match certificate's altnames: ${ip ? "IP" : "Host"}: ${options.identity}. is not in the cert's altnames: ${certificate.subjectAltName ?? ""}`),
    { code: "ERR_TLS_CERT_ALTNAME_INVALID" },
  );
}

/**
 * ALPN names in the wire format `upgradeTLS` (and `Bun.connect`/`Bun.listen`) take: each
 * one's length byte, then its bytes.
 *
 * @example
 * ```ts ignore
 * alpnWire(["h2", "http/1.1"]); // 2 h 2 8 h t t p / 1 . 1
 * ```
 */
export function alpnWire(names: string[] | undefined): ArrayBuffer | undefined {
  if (names === undefined) return undefined;
  const encoder = new TextEncoder();
  const parts = names.map((name) => encoder.encode(name));
  const wire = new Uint8Array(parts.reduce((sum, part) => sum + 1 + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    wire[offset++] = part.length;
    wire.set(part, offset);
    offset += part.length;
  }
  return wire.buffer;
}

function clientOptions(options: CheckedTlsClient): BunTlsOptions {
  const common = {
    // Without a name (an IP), Bun would send the address as SNI; "" sends none, as node:tls does.
    serverName: options.serverName ?? "",
    rejectUnauthorized: true,
    ALPNProtocols: alpnWire(options.alpn),
  };
  // Without `ca`, Bun's own trust store: PEM options are the way to keep it.
  if (options.ca === undefined) return { ...common, cert: options.cert, key: options.key };
  return { ...common, secureContext: cachedContext(options.ca, options.cert, options.key) };
}

function serverOptions(options: CheckedTlsServer, pair: CertificateAndKey | undefined): BunTlsOptions {
  const { cert, key } = pair ?? options;
  return {
    secureContext: cachedContext(options.ca, cert, key),
    requestCert: options.clientCertificate !== "none",
    // Client certificates are judged after the handshake, where the client can be told.
    rejectUnauthorized: false,
    ALPNProtocols: alpnWire(options.alpn),
  };
}

/** Secure contexts already made, by their PEM: parsing a key and certificates per handshake costs about a third of one. */
const CONTEXTS = new Map<string, unknown>();
const MAX_CONTEXTS = 64;

/** Bun's native context for these PEM strings (the `.context` of `tls.createSecureContext`), made once. */
function cachedContext(ca: string[] | undefined, cert: string | undefined, key: string | undefined): unknown {
  const id = JSON.stringify([ca ?? null, cert ?? null, key ?? null]);
  let context = CONTEXTS.get(id);
  if (context === undefined) {
    context = (tls.createSecureContext({ ca, cert, key }) as unknown as { context: unknown }).context;
    if (CONTEXTS.size >= MAX_CONTEXTS) CONTEXTS.delete(CONTEXTS.keys().next().value as string);
    CONTEXTS.set(id, context);
  }
  return context;
}

/**
 * Reads the client's first TLS record (its ClientHello) off `raw`: the bytes read, and the
 * server name asked for in it if any. Stops as soon as the bytes are not a TLS handshake
 * record. Rejects when the peer closes first; the caller's timer bounds the wait.
 */
async function readClientHello<A extends Address>(raw: BunConnection<A>): Promise<{ chunks: Uint8Array[]; serverName: string | undefined }> {
  const chunks: Uint8Array[] = [];
  let received = 0;
  let needed: number | undefined;
  while (needed === undefined || received < needed) {
    const chunk = await raw.readChunk();
    if (chunk === null) throw socketError("tls-handshake-failed", "tls", "", "the peer closed the connection during the TLS handshake");
    if (chunk.length === 0) continue;
    chunks.push(chunk);
    received += chunk.length;
    if (needed === undefined && received >= 5) {
      needed = clientHelloRecordSize(concat(chunks));
      if (needed === undefined) return { chunks, serverName: undefined };
    }
  }
  return { chunks, serverName: clientHelloServerName(concat(chunks)) };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const whole = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.length;
  }
  return whole;
}

/**
 * The session as `connection.tls` reports it, as the `node:tls` path fills it.
 *
 * @example
 * ```ts ignore
 * connection.secured(tlsInfo(socket, "localhost"));
 * ```
 *
 * @param certificate The peer's certificate, when the caller has it already.
 */
export function tlsInfo(
  socket: BunSocket<unknown>,
  serverName: string | null,
  certificate: X509Certificate | undefined = socket.getPeerX509Certificate?.() ?? undefined,
): TlsInfo {
  const cipher = socket.getCipher?.() ?? { name: "" };
  const protocol = socket.getTLSVersion?.();
  let described: PeerCertificate | null | undefined;
  return {
    protocol: protocol === "TLSv1.2" ? "TLSv1.2" : "TLSv1.3",
    cipher: cipher.standardName ?? cipher.name,
    alpn: typeof socket.alpnProtocol === "string" ? socket.alpnProtocol : null,
    serverName,
    // Described when first asked for: most connections never look.
    get peerCertificate(): PeerCertificate | null {
      return described ??= certificate === undefined ? null : describeCertificate(certificate);
    },
  };
}
