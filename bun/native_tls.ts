/**
 * TLS from the first byte on Bun: `Bun.connect({ tls })` and `Bun.listen({ tls })`, where
 * they meet the contract, instead of a plain socket upgraded at once with `upgradeTLS`
 * (bun/tls.ts). The socket starts its handshake as it connects (or is accepted); the
 * driver's `startTls` then waits for it and checks the peer (`finishNativeTls`).
 *
 * A listener with `sni` or `clientCertificate` stays on `upgradeTLS`: `Bun.listen` takes one
 * certificate (`tls: [...]` throws on 1.4.5), and a client certificate it does not trust
 * still makes a successful handshake that the server cannot answer with an alert (no socket
 * under TLS to write one to), so the client would see a clean end instead of a failure.
 *
 * @module
 */
import { formatSocketAddress } from "../core/address.ts";
import type { IpSocketAddress } from "../core/address.ts";
import type { AcceptQueue } from "../core/accept_queue.ts";
import type { RawConnection, TcpConnectRequest } from "../core/driver.ts";
import type { ConnectionEnds } from "../core/ends.ts";
import { socketError } from "../core/errors.ts";
import { tlsUpgradeLabels } from "../core/tls.ts";
import type { CheckedTls, CheckedTlsClient, CheckedTlsServer } from "../core/tls.ts";
import { handshakeError } from "../node/tls.ts";
import { bun } from "./bun_api.ts";
import type { BunSocket, BunSocketHandler, BunTcpListener, BunTlsOptions } from "./bun_api.ts";
import { BunConnection, HANDLERS } from "./connection.ts";
import type { AnyBunSocket } from "./connection.ts";
import { bunError } from "./errors.ts";
import { alpnWire, certificateIdentityError, tlsInfo } from "./tls.ts";

type Ends = (socket: AnyBunSocket) => ConnectionEnds<IpSocketAddress>;

/** How long a server waits for a client to finish its handshake (as on the other paths). */
const HANDSHAKE_TIMEOUT_MS = 30_000;

/** How a handshake ended. */
type Outcome = { ok: true } | { ok: false; error: unknown };

/**
 * A connection whose socket speaks TLS from its first byte (`Bun.connect`/`Bun.listen`
 * with `tls`); `finishNativeTls` waits for its handshake.
 *
 * @example
 * ```ts ignore
 * if (raw instanceof BunTlsConnection) return finishNativeTls(raw, options, signal);
 * ```
 */
export class BunTlsConnection extends BunConnection<IpSocketAddress> {
  /** The options the socket was opened with. */
  readonly options: CheckedTls;
  /** Set once `finishNativeTls` took it. */
  claimed = false;
  readonly #socket: AnyBunSocket;
  #outcome: Outcome | undefined;
  #waiter: ((outcome: Outcome) => void) | undefined;

  /**
   * @param socket The TLS socket, its handshake under way.
   * @param ends Both addresses.
   * @param options The options it was opened with.
   */
  constructor(socket: AnyBunSocket, ends: ConnectionEnds<IpSocketAddress>, options: CheckedTls) {
    super(socket, ends);
    this.#socket = socket;
    this.options = options;
  }

  /** Bun's `handshake` handler: checks the peer and fills `tls` (nothing may throw in Bun's handler). */
  onHandshake(success: boolean, authorizationError: Error | null): void {
    if (this.#outcome !== undefined) return;
    // `success` only says the handshake finished: the chain's verdict is `authorizationError`
    // (Bun's verify callback accepts every chain and reports it there), so both are checked.
    if (!success || (this.options.side === "client" && (authorizationError !== null || this.#socket.authorized === false))) {
      return this.#settle({ ok: false, error: authorizationError ?? new Error("TLS handshake failed") });
    }
    const socket = this.#socket;
    const options = this.options;
    try {
      // A server that asks for no certificate gets none.
      const certificate = options.side === "server" && options.clientCertificate === "none"
        ? undefined
        : socket.getPeerX509Certificate?.() ?? undefined;
      let serverName: string | null;
      if (options.side === "client") {
        const mismatch = certificateIdentityError(certificate, options);
        if (mismatch !== undefined) return this.#settle({ ok: false, error: mismatch });
        serverName = options.serverName ?? null;
      } else {
        serverName = socket.getServername?.() || null;
      }
      this.secured(tlsInfo(socket, serverName, certificate));
    } catch (error) {
      return this.#settle({ ok: false, error });
    }
    this.#settle({ ok: true });
  }

  /** The socket ended, failed or closed: a handshake still under way fails. */
  onEarlyEnd(error: unknown): void {
    if (this.#outcome !== undefined) return;
    this.#settle({
      ok: false,
      error: error ?? socketError("tls-handshake-failed", "tls", "", "the peer closed the connection during the TLS handshake"),
    });
  }

  /**
   * The handshake's outcome once known: `"aborted"` when `signal` aborts first, a failure
   * when `timeoutMs` passes first.
   */
  wait(signal: AbortSignal | undefined, timeoutMs: number | undefined): Promise<Outcome | "aborted"> {
    if (this.#outcome !== undefined) return Promise.resolve(this.#outcome);
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = (): void => {
        clearTimeout(timer);
        this.#waiter = undefined;
        resolve("aborted");
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          signal?.removeEventListener("abort", onAbort);
          this.#waiter = undefined;
          const error = socketError("tls-handshake-failed", "tls", "", `TLS handshake timed out: not done within ${timeoutMs} ms`);
          resolve({ ok: false, error });
        }, timeoutMs);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiter = (outcome) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        resolve(outcome);
      };
    });
  }

  /** Drops the socket at once (a failed or abandoned handshake). */
  terminate(): void {
    this.#socket.terminate();
  }

  #settle(outcome: Outcome): void {
    this.#outcome = outcome;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.(outcome);
  }
}

/**
 * The `BunTlsConnection` in `socket.data`; undefined before `open` (a client's `data` is
 * still its `Opening` then, and `Bun.connect`'s promise reports what went wrong).
 */
function tlsConnectionOf(socket: AnyBunSocket): BunTlsConnection | undefined {
  const data: unknown = socket.data;
  return data instanceof BunTlsConnection ? data : undefined;
}

/** Handlers of every native TLS socket, its state the `BunTlsConnection` in `socket.data`. */
const TLS_HANDLERS: BunSocketHandler<BunConnection<IpSocketAddress>> = {
  ...HANDLERS,
  handshake: (socket, success, authorizationError) => tlsConnectionOf(socket)?.onHandshake(success, authorizationError),
  end: (socket) => {
    const connection = tlsConnectionOf(socket);
    connection?.onEarlyEnd(undefined);
    connection?.onEnd();
  },
  error: (socket, error) => {
    const connection = tlsConnectionOf(socket);
    connection?.onEarlyEnd(error);
    connection?.onError(error);
  },
  close: (socket, error) => {
    const connection = tlsConnectionOf(socket);
    connection?.onClose(error);
    connection?.onEarlyEnd(error);
  },
};

/** What a socket of `nativeTlsConnect` holds as `data` until its `open`. */
interface Opening {
  options: CheckedTlsClient;
  ends: Ends;
}

/** Handlers of `nativeTlsConnect`'s sockets (one object for all): `open` swaps the `Opening` for the connection. */
const CONNECT_HANDLERS = {
  ...TLS_HANDLERS,
  open: (socket: BunSocket<BunConnection<IpSocketAddress> | Opening>) => {
    const { options, ends } = socket.data as Opening;
    socket.data = new BunTlsConnection(socket as AnyBunSocket, ends(socket as AnyBunSocket), options);
  },
} as BunSocketHandler<BunConnection<IpSocketAddress> | Opening>;

/**
 * The `tls` option of `Bun.connect` for `options`.
 *
 * @example
 * ```ts ignore
 * Bun.connect({ hostname, port, tls: nativeTlsClientOptions(options), socket });
 * ```
 */
export function nativeTlsClientOptions(options: CheckedTlsClient): BunTlsOptions {
  return {
    // Without a name (an IP), Bun would send the address as SNI; "" sends none, as node:tls does.
    serverName: options.serverName ?? "",
    rejectUnauthorized: true,
    ALPNProtocols: alpnWire(options.alpn),
    // PEM: `Bun.connect` takes no ready context. Without `ca`, Bun's own trust store.
    ca: options.ca,
    cert: options.cert,
    key: options.key,
  };
}

/**
 * `Bun.connect({ tls })`: resolves with the connection once TCP is connected, its handshake
 * under way (`finishNativeTls` waits for it). Honours `request.signal` as a plain connect does.
 *
 * @example
 * ```ts ignore
 * const raw = await nativeTlsConnect(request, options, ends);
 * ```
 */
export async function nativeTlsConnect(request: TcpConnectRequest, options: CheckedTlsClient, ends: Ends): Promise<BunTlsConnection> {
  const { signal } = request;
  if (signal?.aborted) throw signal.reason;
  let socket: AnyBunSocket;
  try {
    socket = await new Promise<AnyBunSocket>((resolve, reject) => {
      const onAbort = (): void => reject(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      bun().connect<BunConnection<IpSocketAddress> | Opening>({
        hostname: request.address,
        port: request.port,
        allowHalfOpen: true,
        tls: nativeTlsClientOptions(options),
        data: { options, ends },
        socket: CONNECT_HANDLERS,
      }).then((opened) => {
        signal?.removeEventListener("abort", onAbort);
        if (signal?.aborted) opened.terminate();
        else resolve(opened as AnyBunSocket);
      }, (error: unknown) => {
        signal?.removeEventListener("abort", onAbort);
        reject(error);
      });
    });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw bunError(error, "tcp.connect", formatSocketAddress(request));
  }
  return socket.data as BunTlsConnection;
}

/**
 * Whether `Bun.listen({ tls })` can serve `options`: one certificate, no client
 * certificates (see the module doc).
 *
 * @example
 * ```ts ignore
 * if (nativeListenable(options)) nativeTlsListen(hostname, port, false, options, queue, ends);
 * ```
 */
export function nativeListenable(options: CheckedTlsServer): boolean {
  return options.sni.size === 0 && options.clientCertificate === "none";
}

/**
 * `Bun.listen({ tls })` for options `nativeListenable` accepts: each accepted socket goes
 * to `queue` at once, its handshake under way (`finishNativeTls` waits for it).
 *
 * @example
 * ```ts ignore
 * const listener = nativeTlsListen("127.0.0.1", 8443, false, options, queue, ends);
 * ```
 */
export function nativeTlsListen(
  hostname: string,
  port: number,
  ipv6Only: boolean,
  options: CheckedTlsServer,
  queue: AcceptQueue<RawConnection>,
  ends: Ends,
): BunTcpListener {
  return bun().listen({
    hostname,
    port,
    allowHalfOpen: true,
    ipv6Only,
    tls: { cert: options.cert, key: options.key, requestCert: false, rejectUnauthorized: false, ALPNProtocols: alpnWire(options.alpn) },
    socket: {
      ...TLS_HANDLERS,
      open: (socket) => {
        const connection = new BunTlsConnection(socket, ends(socket), options);
        socket.data = connection;
        queue.push(connection);
      },
    },
  });
}

/**
 * The driver's `startTls` for a `BunTlsConnection`: waits for the handshake its socket
 * started as it opened, and resolves with the same connection, its peer checked and its
 * `tls` filled. On failure the socket is dropped and the error is one of the TLS codes.
 *
 * @example
 * ```ts ignore
 * const secure = await finishNativeTls(raw, options, signal);
 * ```
 *
 * @param raw The connection.
 * @param options The checked options (those the socket was opened with).
 * @param signal Aborts the handshake: the connection is dropped and the promise rejects with `signal.reason`.
 * @returns `raw`, once its handshake is done.
 */
export async function finishNativeTls(raw: BunTlsConnection, options: CheckedTls, signal?: AbortSignal): Promise<RawConnection<IpSocketAddress>> {
  raw.claimed = true;
  const outcome = signal?.aborted ? "aborted" : await raw.wait(signal, options.side === "server" ? HANDSHAKE_TIMEOUT_MS : undefined);
  if (outcome === "aborted") {
    raw.terminate();
    throw signal?.reason;
  }
  if (outcome.ok) return raw;
  raw.terminate();
  const { operation, target } = tlsUpgradeLabels(raw, options);
  throw handshakeError(outcome.error, operation, target);
}
