/**
 * TLS over any driver connection with `node:tls`, the one TLS that is whole on all three
 * runtimes (client and server STARTTLS, SNI, client certificates, peer certificates: see
 * the runtime table). A `NodeConnection` hands its `net.Socket` over (the runtime's fast
 * path); any other driver connection is wrapped in a `Duplex` first.
 *
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import net from "node:net";
import process from "node:process";
import tls from "node:tls";
import type { Duplex, Writable } from "node:stream";
import type { IpSocketAddress, UnixSocketAddress } from "../core/address.ts";
import type { RawConnection } from "../core/driver.ts";
import type { FlowControl } from "../core/chunk_reader.ts";
import { SocketError, socketError } from "../core/errors.ts";
import type { SocketErrorCode } from "../core/errors.ts";
import { pairForName, tlsUpgradeLabels } from "../core/tls.ts";
import type { CertificateAndKey, CheckedTls, CheckedTlsClient, CheckedTlsServer, PeerCertificate, TlsInfo } from "../core/tls.ts";
import { clientHelloRecordSize, clientHelloServerName } from "./client_hello.ts";
import { NodeConnection } from "./connection.ts";
import { describeCertificate, peerX509 } from "./peer_certificate.ts";
import { chunkReader, holdRawDuplex, rawDuplex } from "./raw_duplex.ts";
import { tlsErrorCode } from "./tls_errors.ts";

type Address = IpSocketAddress | UnixSocketAddress;

/** Node itself, not Deno's or Bun's `node:` modules. */
const ON_NODE = process.versions.bun === undefined && process.versions.deno === undefined;
const ON_DENO = process.versions.deno !== undefined;

/** TLS alert descriptions (RFC 8446 §6). */
const ALERT_UNKNOWN_CA = 48;
const ALERT_CERTIFICATE_REQUIRED = 116;

/** How long a server waits for a client to finish its handshake. */
const HANDSHAKE_TIMEOUT_MS = 30_000;

/**
 * Checks what only crypto can: every PEM parses and each key belongs to its certificate.
 * Throws `invalid-argument` naming the one that does not.
 *
 * @param options Checked options.
 * @param operation For the message.
 */
export function checkTlsKeys(options: CheckedTls, operation: string): void {
  const pairs: [string, CertificateAndKey][] = [];
  if (options.side === "client") {
    if (options.cert !== undefined && options.key !== undefined) pairs.push(["tls.cert", { cert: options.cert, key: options.key }]);
  } else {
    pairs.push(["tls.cert", options]);
    for (const [name, pair] of options.sni) pairs.push([`tls.sni[${JSON.stringify(name)}].cert`, pair]);
  }
  for (const [what, pair] of pairs) {
    const known = `${pair.cert}\0${pair.key}`;
    if (checked.has(known)) continue;
    checkPair(what, pair, operation);
    remember(known);
  }
  for (const [i, pem] of (options.ca ?? []).entries()) {
    if (checked.has(pem)) continue;
    parseCertificate(pem, options.ca?.length === 1 ? "tls.ca" : `tls.ca[${i}]`, operation);
    remember(pem);
  }
}

/** PEM (and certificate-and-key pairs) already found good: a client connecting again does not parse them again. */
const checked = new Set<string>();
const CHECKED_LIMIT = 256;

function remember(key: string): void {
  if (checked.size >= CHECKED_LIMIT) checked.clear();
  checked.add(key);
}

/**
 * Client contexts by their trust and identity: building one parses every CA certificate
 * (about 0.2 ms), which a client connecting again need not pay. Bounded; the oldest goes.
 */
const clientContexts = new Map<string, tls.SecureContext>();
const CONTEXT_LIMIT = 32;

function clientContext(options: CheckedTlsClient): tls.SecureContext | undefined {
  if (options.ca === undefined && options.cert === undefined) return undefined;
  const key = `${(options.ca ?? []).join("\0")}\u0001${options.cert ?? ""}\u0001${options.key ?? ""}`;
  let context = clientContexts.get(key);
  if (context === undefined) {
    context = tls.createSecureContext({ ca: options.ca, cert: options.cert, key: options.key, minVersion: "TLSv1.2" });
    if (clientContexts.size >= CONTEXT_LIMIT) clientContexts.delete(clientContexts.keys().next().value as string);
    clientContexts.set(key, context);
  }
  return context;
}

function parseCertificate(pem: string, what: string, operation: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw socketError("invalid-argument", operation, "", `${what} is not a valid certificate: ${message(error)}`, error);
  }
}

function checkPair(what: string, pair: CertificateAndKey, operation: string): void {
  const certificate = parseCertificate(pair.cert, what, operation);
  const keyWhat = what.replace(/cert$/, "key");
  let key;
  try {
    key = createPrivateKey(pair.key);
  } catch (error) {
    throw socketError("invalid-argument", operation, "", `${keyWhat} is not a valid private key: ${message(error)}`, error);
  }
  let matches: boolean;
  try {
    matches = certificate.checkPrivateKey(key);
  } catch {
    matches = false;
  }
  if (!matches) throw socketError("invalid-argument", operation, "", `${keyWhat} does not belong to ${what}`);
  // What parses may still be refused by the TLS library (a key too small for its security
  // level, say): loading it now makes that an error of the call, not of the first handshake.
  try {
    tls.createSecureContext({ cert: pair.cert, key: pair.key });
  } catch (error) {
    throw socketError("invalid-argument", operation, "", `${what} and its key cannot be used for TLS: ${message(error)}`, error);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The driver's `startTls` for every runtime (see the module doc).
 *
 * @param raw The plaintext connection; spent either way.
 * @param options Checked options; `side` says client or server.
 * @param signal Aborts the handshake: the connection is closed and the promise rejects with `signal.reason`.
 * @returns The encrypted connection, handshake done and peer verified.
 */
export function nodeStartTls<A extends Address>(
  raw: RawConnection<A>,
  options: CheckedTls,
  signal?: AbortSignal,
): Promise<RawConnection<A>> {
  const { ends, operation, target } = tlsUpgradeLabels(raw, options);
  if (signal?.aborted) {
    raw.close();
    return Promise.reject(signal.reason);
  }
  // A Node-driver socket is handed to TLS as it is (the fast path), except to a server that
  // checks client certificates on Node itself: refusing one (see `refuse`) needs the stream
  // under TLS, which Node's native TLS takes over whole.
  const shared = raw instanceof NodeConnection && !(options.side === "server" && options.clientCertificate !== "none" && ON_NODE);
  // Made at once, but later on the server side over a Duplex with `sni` (see sniServerHandshake).
  let transport: net.Socket | Duplex | undefined;
  // The TLS socket is wrapped the moment its handshake is done, in the same turn: an alert
  // or an end right behind the handshake (Deno delivers them together) reaches the wrapper.
  const adopt: Adopt = (socket, serverName) => {
    // The TLS socket owns the transport now: it goes when the TLS socket goes.
    socket.once("close", () => {
      transport?.destroy();
      raw.close();
    });
    // Deno's TLS socket loses its end of stream once paused and resumed (see denoTlsFlow):
    // there, flow control holds the stream under TLS instead. Over a Duplex, Deno's TLS
    // also does not end the stream under it when it has sent close_notify: TLS's end is
    // passed down by hand.
    let flow: FlowControl | undefined;
    if (ON_DENO && transport instanceof net.Socket) {
      flow = denoTlsFlow(socket);
    } else if (ON_DENO && transport !== undefined) {
      const under = transport;
      flow = { pause: () => holdRawDuplex(under, true), resume: () => holdRawDuplex(under, false) };
      socket.once("finish", () => under.end());
    }
    return new NodeConnection(socket, ends, tlsInfo(socket, serverName), flow);
  };
  let handshake: Handshake;
  try {
    if (options.side === "server" && !shared && options.sni.size > 0) {
      handshake = sniServerHandshake(raw, options, adopt, (made) => {
        transport = made;
      });
    } else {
      transport = shared ? (raw as NodeConnection<A>).detach() : rawDuplex(raw);
      handshake = options.side === "client" ? clientHandshake(transport, options, adopt) : serverHandshake(transport, options, shared, adopt);
    }
  } catch (error) {
    // The TLS library refused to start (options it would not load): nothing may be left open.
    (transport as net.Socket | Duplex | undefined)?.destroy();
    raw.close();
    return Promise.reject(handshakeError(error, operation, target));
  }
  return new Promise<RawConnection<A>>((resolve, reject) => {
    let done = false;
    const onAbort = (): void => {
      if (done) return;
      done = true;
      handshake.cancel();
      transport?.destroy();
      raw.close();
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    handshake.result.then(
      (connection) => {
        signal?.removeEventListener("abort", onAbort);
        if (done) {
          connection.close();
          return;
        }
        done = true;
        resolve(connection as unknown as RawConnection<A>);
      },
      (error: unknown) => {
        signal?.removeEventListener("abort", onAbort);
        transport?.destroy();
        raw.close();
        if (done) return;
        done = true;
        reject(handshakeError(error, operation, target));
      },
    );
  });
}

/** The native TCP handle under a Deno TLS socket over a `net.Socket`. */
interface DenoTcpHandle {
  readStart(): number;
  readStop(): number;
}

/**
 * Flow control for Deno's TLS socket over a `net.Socket`: stops and restarts reading the
 * TCP handle under TLS, never the TLS socket itself. Deno's `TLSWrap.readStop` (what a
 * paused TLS socket calls) only stops handing out cleartext, which it keeps decrypting into
 * a buffer of its own; its `readStart` hands that buffer out, and if that makes the socket
 * stop again, the end of stream held with it is dropped (deno ext/node/ops/tls_wrap.rs,
 * `read_start`: `pending_eof` is cleared before `onread` is read again). The TCP handle's
 * own `readStop` really stops reading, so the kernel holds the bytes back (and the sender).
 */
function denoTlsFlow(socket: tls.TLSSocket): FlowControl {
  const handle = (socket as unknown as { _handle?: { _nativeTcpHandle?: DenoTcpHandle } })._handle?._nativeTcpHandle;
  // Another layout than Deno 2.9's: without a handle, not pausing at all keeps the end.
  if (handle === undefined) return { pause: () => {}, resume: () => {} };
  let stopped = false;
  return {
    pause: () => {
      if (stopped || socket.destroyed) return;
      stopped = true;
      handle.readStop();
    },
    resume: () => {
      if (!stopped) return;
      stopped = false;
      if (!socket.destroyed) handle.readStart();
    },
  };
}

/** Wraps a TLS socket whose handshake is done; called in the turn that finished it. */
type Adopt = (socket: tls.TLSSocket, serverName: string | null) => NodeConnection<Address>;

interface Handshake {
  result: Promise<NodeConnection<Address>>;
  cancel(): void;
}

/**
 * A failed handshake as a TLS `SocketError` (anything that is not about the certificate is `tls-handshake-failed`).
 *
 * @param error What the TLS library reported.
 * @param operation For the message.
 * @param target For the message.
 * @returns The error to reject with.
 */
export function handshakeError(error: unknown, operation: string, target: string): SocketError {
  if (error instanceof SocketError) {
    // Made inside the handshake without an address ("tls: ..."): named here by the operation and peer.
    if (!error.message.startsWith("tls: ")) return error;
    return socketError(error.code, operation, target, error.message.slice("tls: ".length), error.cause);
  }
  const code: SocketErrorCode = tlsErrorCode((error as { code?: string } | undefined)?.code) ?? "tls-handshake-failed";
  // Node adds advice of its own to an untrusted chain; the message is the same on every runtime without it.
  const text = message(error).replace(/; if the root CA is installed locally.*$/s, "");
  const detail = code === "tls-handshake-failed" && !/tls|ssl|handshake|alert/i.test(text) ? `TLS handshake failed: ${text}` : text;
  return socketError(code, operation, target, detail, error);
}

function clientHandshake(transport: net.Socket | Duplex, options: CheckedTlsClient, adopt: Adopt): Handshake {
  let socket: tls.TLSSocket | undefined;
  const result = new Promise<NodeConnection<Address>>((resolve, reject) => {
    const identity = options.identity;
    socket = tls.connect({
      socket: transport as net.Socket,
      servername: options.serverName,
      host: identity,
      // Where the runtime takes a ready context it uses it; the PEM stays for one that does not.
      secureContext: clientContext(options),
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      ALPNProtocols: options.alpn,
      minVersion: "TLSv1.2",
      rejectUnauthorized: true,
      checkServerIdentity: (_host, certificate) => tls.checkServerIdentity(identity, certificate),
    });
    const tlsSocket = socket;
    const onError = (error: Error): void => {
      tlsSocket.destroy();
      reject(error);
    };
    const onClose = (): void => reject(socketError("tls-handshake-failed", "tls", "", "the peer closed the connection during the TLS handshake"));
    tlsSocket.once("error", onError);
    tlsSocket.once("close", onClose);
    tlsSocket.once("secureConnect", () => {
      tlsSocket.off("error", onError);
      tlsSocket.off("close", onClose);
      try {
        resolve(adopt(tlsSocket, options.serverName ?? null));
      } catch (error) {
        // Inside an event handler: a throw would be uncaught.
        tlsSocket.destroy();
        reject(error);
      }
    });
  });
  return { result, cancel: () => socket?.destroy() };
}

interface Waiter {
  resolve(socket: tls.TLSSocket): void;
  reject(error: unknown): void;
}

interface ServerState {
  server: tls.Server;
  /** Handshakes under way, by the transport handed to the server. */
  waiting: Map<object, Waiter>;
  /** Whether many transports share it (a listener's), or it was made for one. */
  shared: boolean;
}

/** One `tls.Server` per listener's options, for the transports that are `net.Socket`s. */
const sharedServers = new WeakMap<CheckedTlsServer, ServerState>();

/**
 * The server side over a Duplex with `sni`. Bun's `tls.Server` never calls `SNICallback`
 * for a Duplex handed in with `emit("connection")`, so on every runtime the name is read
 * out of the ClientHello here, before TLS starts, and the server made for this one
 * handshake serves the pair for it as its default. The bytes read are the first TLS reads.
 *
 * @param onTransport Told of the Duplex once it is made (not if the handshake ends first).
 */
function sniServerHandshake<A extends Address>(raw: RawConnection<A>, options: CheckedTlsServer, adopt: Adopt, onTransport: (transport: Duplex) => void): Handshake {
  let cancelled = false;
  let inner: Handshake | undefined;
  const result = peekClientHello(raw).then(({ chunks, serverName }) => {
    if (cancelled) throw socketError("tls-handshake-failed", "tls", "", "the TLS handshake was cancelled");
    const transport = rawDuplex(raw, chunks);
    onTransport(transport);
    // No name read: the usual server, whose SNICallback is there for a runtime that calls it.
    const pair = serverName === undefined ? undefined : pairForName(options.sni, serverName) ?? { cert: options.cert, key: options.key };
    inner = serverHandshake(transport, options, false, adopt, pair, serverName);
    return inner.result;
  });
  return {
    result,
    cancel: () => {
      cancelled = true;
      inner?.cancel();
    },
  };
}

/**
 * Reads the client's first TLS record (its ClientHello) off `raw`: the bytes read, and the
 * server name asked for in it if any. Stops as soon as the bytes are not a TLS handshake
 * record; a record is at most 16 KiB + 5 bytes. Rejects when the peer closes first, or
 * sends no whole record within the handshake timeout.
 */
function peekClientHello<A extends Address>(raw: RawConnection<A>): Promise<{ chunks: Uint8Array[]; serverName: string | undefined }> {
  const chunks: Uint8Array[] = [];
  const next = chunkReader(raw);
  const read = async (): Promise<{ chunks: Uint8Array[]; serverName: string | undefined }> => {
    let received = 0;
    let needed: number | undefined;
    while (needed === undefined || received < needed) {
      const chunk = await next();
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
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(socketError("tls-handshake-failed", "tls", "", `TLS handshake timed out: no ClientHello within ${HANDSHAKE_TIMEOUT_MS} ms`)), HANDSHAKE_TIMEOUT_MS);
  });
  return Promise.race([read(), timeout]).finally(() => clearTimeout(timer));
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
 * @param pair For a server made for one handshake whose ClientHello was read: the pair it
 *   serves as its default, with no SNICallback.
 * @param peeked The server name read from that ClientHello: `serverName` where the TLS
 *   socket does not tell it.
 */
function serverHandshake(
  transport: net.Socket | Duplex,
  options: CheckedTlsServer,
  shared: boolean,
  adopt: Adopt,
  pair?: CertificateAndKey,
  peeked?: string,
): Handshake {
  let state = shared ? sharedServers.get(options) : undefined;
  if (state === undefined) {
    state = createServerState(options, shared, pair);
    if (shared) sharedServers.set(options, state);
  }
  const { server, waiting } = state;
  // A client that gives up mid-handshake sends FIN; on a half-open transport that ends
  // nothing, and the handshake would wait for its timeout. Half-open again once it is done.
  const halfOpen = transport.allowHalfOpen;
  transport.allowHalfOpen = false;
  const result = new Promise<NodeConnection<Address>>((resolve, reject) => {
    const gone = (): void => {
      if (waiting.delete(transport)) reject(socketError("tls-handshake-failed", "tls", "", "the peer closed the connection during the TLS handshake"));
    };
    waiting.set(transport, {
      resolve: (socket) => {
        transport.off("end", gone);
        transport.allowHalfOpen = halfOpen;
        socket.allowHalfOpen = true;
        try {
          resolve(adopt(socket, socket.servername || peeked || null));
        } catch (error) {
          // Inside an event handler: a throw would be uncaught.
          socket.destroy();
          reject(error);
        }
      },
      reject,
    });
    transport.once("close", gone);
    transport.once("end", gone);
    server.emit("connection", transport);
  });
  return { result, cancel: () => waiting.delete(transport) };
}

/** The transport a server-side TLS socket runs on: `_parent` on all three runtimes for a `net.Socket`. */
function waiterFor(state: ServerState, socket: tls.TLSSocket): [object, Waiter] | undefined {
  const parent = (socket as unknown as { _parent?: object })._parent;
  if (parent !== undefined) {
    const waiter = state.waiting.get(parent);
    if (waiter !== undefined) return [parent, waiter];
  }
  // A server made for one Duplex (not shared) has one handshake at most. Never for a shared
  // one: the only waiter left there may be another client's, whose handshake goes on.
  if (!state.shared && state.waiting.size === 1) return state.waiting.entries().next().value;
  return undefined;
}

function createServerState(options: CheckedTlsServer, shared: boolean, pair?: CertificateAndKey): ServerState {
  const contexts = new Map<CertificateAndKey, tls.SecureContext>();
  const contextFor = (pair: CertificateAndKey): tls.SecureContext => {
    let context = contexts.get(pair);
    if (context === undefined) {
      context = tls.createSecureContext({ cert: pair.cert, key: pair.key, ca: options.ca, minVersion: "TLSv1.2" });
      contexts.set(pair, context);
    }
    return context;
  };
  const server = tls.createServer({
    cert: (pair ?? options).cert,
    key: (pair ?? options).key,
    ca: options.ca,
    requestCert: options.clientCertificate !== "none",
    // Client certificates are judged below, after the handshake, where the client can be
    // told (`refuse`): Node's own refusal is a bare close the client cannot tell from an end.
    rejectUnauthorized: false,
    ALPNProtocols: options.alpn,
    minVersion: "TLSv1.2",
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    SNICallback: options.sni.size === 0 || pair !== undefined ? undefined : (name, callback) => {
      const pair = pairForName(options.sni, name);
      callback(null, pair === undefined ? undefined : contextFor(pair));
    },
  });
  const state: ServerState = { server, waiting: new Map(), shared };
  server.on("secureConnection", (socket: tls.TLSSocket) => {
    const found = waiterFor(state, socket);
    if (found === undefined) {
      socket.destroy();
      return;
    }
    state.waiting.delete(found[0]);
    const [, waiter] = found;
    const mode = options.clientCertificate;
    if (mode !== "none") {
      const presented = hasPeerCertificate(socket);
      if (presented && !socket.authorized) {
        const reason = socket.authorizationError;
        refuse(socket, found[0] as Writable, ALERT_UNKNOWN_CA);
        const code = tlsErrorCode(typeof reason === "string" ? reason : (reason as { code?: string } | undefined)?.code) ?? "tls-certificate-untrusted";
        waiter.reject(socketError(code, "tls", "", `the client's certificate is not trusted (${String(reason)})`));
        return;
      }
      if (!presented && mode === "require") {
        refuse(socket, found[0] as Writable, ALERT_CERTIFICATE_REQUIRED);
        waiter.reject(socketError("tls-handshake-failed", "tls", "", "the client sent no certificate and one is required"));
        return;
      }
    }
    waiter.resolve(socket);
  });
  server.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => {
    const found = waiterFor(state, socket);
    socket.destroy();
    if (found === undefined) return;
    state.waiting.delete(found[0]);
    found[1].reject(error);
  });
  return state;
}

/**
 * Refuses a client whose handshake is done (TLS 1.3 checks the client's certificate only
 * then): `node:tls` can send no alert at that point, and a bare close reads as a normal end
 * of stream on the client. So the alert is written in the clear on the stream under TLS,
 * where the client's TLS takes it as a broken record and fails its next read (as
 * `tls-handshake-failed` for a unisock client); then both are closed.
 */
function refuse(socket: tls.TLSSocket, transport: Writable, description: number): void {
  // The client may reset first; nothing is waiting for this socket any more.
  socket.on("error", () => {});
  const close = (): void => {
    clearTimeout(timer);
    socket.destroy();
    transport.destroy();
  };
  // Should the write never finish, the connection goes all the same.
  const timer = setTimeout(close, 1000);
  transport.write(Uint8Array.of(21, 3, 3, 0, 2, 2, description), close);
}

/** Whether the client sent a certificate: the same source as the one `connection.tls` reports. */
function hasPeerCertificate(socket: tls.TLSSocket): boolean {
  return peerX509(socket) !== undefined;
}

/** The session as `connection.tls` reports it. */
function tlsInfo(socket: tls.TLSSocket, serverName: string | null): TlsInfo {
  const cipher = socket.getCipher() as { name: string; standardName?: string };
  const protocol = socket.getProtocol();
  const certificate = peerX509(socket);
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
