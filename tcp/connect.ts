/**
 * `tcp.connect`: checks its input, resolves a name, races the addresses with Happy
 * Eyeballs and wraps the winner in a `Connection`.
 *
 * @module
 */
import { checkPort, describeValue, formatSocketAddress, parseIp } from "../core/address.ts";
import type { IpAddress, IpSocketAddress, ParsedIp } from "../core/address.ts";
import { checkSignal, checkTimeout, deadline } from "../core/abort.ts";
import { Connection } from "../core/connection.ts";
import type { Driver, RawConnection } from "../core/driver.ts";
import { SocketError, socketError } from "../core/errors.ts";
import { checkTlsClient } from "../core/tls.ts";
import type { TlsClientOptions } from "../core/tls.ts";
import { AttemptsFailed, happyEyeballs } from "./happy_eyeballs.ts";

/**
 * Where to connect: a host name or IP address, and a port.
 *
 * @example Using `TcpConnectAddress`
 * ```ts
 * import type { TcpConnectAddress } from "./connect.ts";
 * const db: TcpConnectAddress = { hostname: "localhost", port: 5432 };
 * console.log(db.port);
 * ```
 */
export interface TcpConnectAddress {
  /** A name (resolved with `resolveAddresses`) or an IP literal. */
  hostname: string;
  /** The port, 1 to 65535. */
  port: number;
}

/**
 * Options of `tcp.connect`.
 *
 * @example Using `TcpConnectOptions`
 * ```ts
 * import type { TcpConnectOptions } from "./connect.ts";
 * const options: TcpConnectOptions = { timeout: 5000, noDelay: true };
 * console.log(options.timeout);
 * ```
 */
export interface TcpConnectOptions {
  /** Aborts connecting (resolution included); it rejects with `signal.reason`. Only the connecting. */
  signal?: AbortSignal;
  /** Milliseconds for resolving and connecting before failing with `timeout`. */
  timeout?: number;
  /** Send small writes at once (TCP_NODELAY). Default false. */
  noDelay?: boolean;
  /** Turn keep-alive probes on. Default false. */
  keepAlive?: boolean;
  /** The local IP address to connect from (Node only; `not-supported` elsewhere). */
  localAddress?: IpAddress;
  /**
   * TLS: `true` (the runtime's trust store, the certificate must name `hostname`) or the
   * client options. `connect` resolves once the handshake is done and the server verified;
   * `signal` and `timeout` cover the handshake too.
   */
  tls?: boolean | TlsClientOptions;
}

/** Resolves a checked name to addresses in connection order. */
export type NameResolver = (name: string, signal: AbortSignal | undefined) => Promise<IpAddress[]>;

/** Asked before any system call: throws `access-denied` when the policy does not allow it. */
export type OutboundCheck = (address: ParsedIp, port: number, hostname: string) => void;

/**
 * Opens a TCP connection through `driver`.
 *
 * @returns The connection.
 */
export async function connectTcp(
  driver: Driver,
  resolve: NameResolver,
  checkOutbound: OutboundCheck,
  remote: TcpConnectAddress,
  options: TcpConnectOptions = {},
): Promise<Connection<IpSocketAddress>> {
  const operation = "tcp.connect";
  if (typeof remote !== "object" || remote === null) {
    throw socketError("invalid-argument", operation, "", `expected { hostname, port }, got ${describeValue(remote)}`);
  }
  const { hostname } = remote;
  if (typeof hostname !== "string" || hostname.length === 0) {
    throw socketError("invalid-argument", operation, "", `hostname must be a non-empty string, got ${describeValue(hostname)}`);
  }
  const port = checkPort(remote.port, operation, false);
  if (typeof options !== "object" || options === null) {
    throw socketError("invalid-argument", operation, "", "options must be an object");
  }
  const signal = checkSignal(options.signal, operation);
  const timeout = checkTimeout(options.timeout, operation);
  const localAddress = checkLocalAddress(options.localAddress, driver, operation);
  const tls = options.tls === undefined || options.tls === false ? undefined : checkTlsClient(options.tls, hostname, operation);
  if (tls !== undefined) driver.checkTlsKeys(tls, operation);
  const sockets = tls === undefined ? driver : driver.tlsSockets ?? driver;
  const target = formatSocketAddress({ address: hostname, port });
  const limit = deadline(signal, timeout, operation, target);
  try {
    if (limit.signal?.aborted) throw limit.signal.reason;
    const literal = parseIp(hostname);
    const addresses = literal !== undefined ? [literal] : (await resolve(hostname, limit.signal)).map(toParsed);
    const allowed = allowedAddresses(addresses, port, hostname, checkOutbound);
    const candidates = localAddress === undefined
      ? allowed
      : allowed.filter((address) => address.family === localAddress.family);
    if (candidates.length === 0) {
      throw socketError("invalid-argument", operation, target, `no ${localAddress?.family} address to reach from ${localAddress?.address}`);
    }
    const raw = await happyEyeballs(
      candidates,
      (address, attemptSignal) =>
        sockets.tcpConnect({
          address: address.address,
          port,
          family: address.family,
          localAddress: localAddress?.address,
          signal: attemptSignal,
          noDelay: options.noDelay === true,
          keepAlive: options.keepAlive === true,
          tls,
        }),
      (connection: RawConnection) => connection.close(),
      limit.signal,
    );
    const label = `tcp ${formatSocketAddress(raw.remoteAddress)}`;
    const upgrade = { driver, side: "client", hostname } as const;
    if (tls === undefined) return new Connection(raw, label, upgrade);
    return new Connection(await driver.startTls(raw, tls, limit.signal), label, upgrade);
  } catch (error) {
    throw limit.translate(reportFailure(error, operation, target, port));
  } finally {
    limit.dispose();
  }
}

/**
 * The addresses the policy allows, in order: only those are tried. When it allows none,
 * the first refusal is thrown, before any connection attempt.
 */
function allowedAddresses(addresses: ParsedIp[], port: number, hostname: string, check: OutboundCheck): ParsedIp[] {
  let allowed: ParsedIp[] | undefined;
  let refusal: unknown;
  for (let i = 0; i < addresses.length; i++) {
    try {
      check(addresses[i], port, hostname);
      allowed?.push(addresses[i]);
    } catch (error) {
      refusal ??= error;
      allowed ??= addresses.slice(0, i);
    }
  }
  if (allowed === undefined) return addresses;
  if (allowed.length === 0) throw refusal;
  return allowed;
}

function toParsed(address: IpAddress): ParsedIp {
  const parsed = parseIp(address);
  if (parsed === undefined) throw socketError("permanent-resolver-failure", "resolve", address, "resolver gave a non-address");
  return parsed;
}

function checkLocalAddress(value: unknown, driver: Driver, operation: string): ParsedIp | undefined {
  if (value === undefined) return undefined;
  const parsed = typeof value === "string" ? parseIp(value) : undefined;
  if (parsed === undefined) {
    throw socketError("invalid-argument", operation, "", `localAddress must be an IP address, got ${describeValue(value)}`);
  }
  if (driver.name !== "node") {
    throw socketError("not-supported", operation, "", `localAddress is not supported on ${driver.name}`);
  }
  return parsed;
}

/** One address: its error as is. Several: the most telling error, naming every attempt. */
function reportFailure(error: unknown, operation: string, target: string, port: number): unknown {
  if (!(error instanceof AttemptsFailed)) return error;
  const failures = (error as AttemptsFailed<ParsedIp>).failures;
  const primary = error.primary;
  if (failures.length === 1 || primary === undefined) return primary ?? failures[0].error;
  const tried = failures
    .map((f) => `${formatSocketAddress({ address: f.address.address, port })}: ${f.error instanceof SocketError ? f.error.code : "error"}`)
    .join(", ");
  return socketError(primary.code, operation, target, `every address failed (${tried})`, primary);
}
