/**
 * The Deno driver, over `Deno.connect`, `Deno.listen` and `Deno.resolveDns`.
 *
 * @module
 */
import process from "node:process";
import { formatSocketAddress, ipSocketAddress } from "../core/address.ts";
import type { IpAddress, IpSocketAddress } from "../core/address.ts";
import type {
  Driver,
  LookupFamily,
  RawConnection,
  RawListener,
  TcpConnectRequest,
  TcpListenRequest,
} from "../core/driver.ts";
import { tcpEnds } from "../core/ends.ts";
import type { ConnectionEnds } from "../core/ends.ts";
import { socketError } from "../core/errors.ts";
import { DenoConnection, denoListener } from "./connection.ts";
import { denoError } from "./errors.ts";
import { denoUnixConnect, denoUnixListen } from "./unix.ts";
import { denoUnixDatagramBind, denoUnixDatagramUnsupported } from "./unix_datagram.ts";
import { denoUdpBind } from "./udp.ts";
import { deno } from "./deno_api.ts";
import type { DenoTcpConn, DenoTcpListener } from "./deno_api.ts";
import { checkTlsKeys, nodeStartTls } from "../node/tls.ts";
import { nodeDriver } from "../node/driver.ts";

function denoTcpEnds(conn: DenoTcpConn): ConnectionEnds<IpSocketAddress> {
  return tcpEnds(conn.localAddr.hostname, conn.localAddr.port, conn.remoteAddr.hostname, conn.remoteAddr.port);
}

async function tcpConnect(request: TcpConnectRequest): Promise<RawConnection> {
  const target = formatSocketAddress(request);
  if (request.signal?.aborted) throw request.signal.reason;
  let conn: DenoTcpConn;
  try {
    conn = await deno().connect({ hostname: request.address, port: request.port, transport: "tcp", signal: request.signal });
  } catch (error) {
    if (request.signal?.aborted) throw request.signal.reason;
    throw denoError(error, "tcp.connect", target);
  }
  if (request.noDelay) conn.setNoDelay(true);
  if (request.keepAlive) conn.setKeepAlive(true);
  return new DenoConnection(conn, denoTcpEnds(conn));
}

/** What Deno's listeners cannot do, the same with or without TLS: the error, or undefined. */
function unsupportedListen(request: TcpListenRequest): Error | undefined {
  const target = formatSocketAddress(request);
  if (request.backlog !== undefined) return socketError("not-supported", "tcp.listen", target, "Deno cannot set the backlog");
  if (request.ipv6Only) return socketError("not-supported", "tcp.listen", target, "Deno cannot set IPV6_V6ONLY");
  return undefined;
}

function tcpListen(request: TcpListenRequest): Promise<RawListener> {
  const target = formatSocketAddress(request);
  const unsupported = unsupportedListen(request);
  if (unsupported !== undefined) return Promise.reject(unsupported);
  let listener: DenoTcpListener;
  try {
    listener = deno().listen({ hostname: request.address, port: request.port, transport: "tcp" });
  } catch (error) {
    return Promise.reject(denoError(error, "tcp.listen", target));
  }
  const localAddress = ipSocketAddress(listener.addr.hostname, listener.addr.port);
  return Promise.resolve(denoListener(listener, "tcp", localAddress, denoTcpEnds));
}

async function lookup(name: string, family: LookupFamily): Promise<IpAddress[]> {
  const types: ("A" | "AAAA")[] = family === "ipv4" ? ["A"] : family === "ipv6" ? ["AAAA"] : ["AAAA", "A"];
  const results = await Promise.allSettled(types.map((type) => deno().resolveDns(name, type)));
  const addresses = results.flatMap((result) => (result.status === "fulfilled" ? result.value : []));
  if (addresses.length > 0) return addresses;
  const failure = results.find((result) => result.status === "rejected" && !isNoRecords(result.reason));
  if (failure === undefined) return [];
  const reason = (failure as PromiseRejectedResult).reason;
  throw socketError("temporary-resolver-failure", "resolve", name, reason instanceof Error ? reason.message : String(reason), reason);
}

function isNoRecords(error: unknown): boolean {
  return error instanceof Error && error.name === "NotFound";
}

/**
 * The Deno driver.
 *
 * @example Using `denoDriver`
 * ```ts ignore
 * import { denoDriver } from "./driver.ts";
 * console.log(denoDriver.name); // "deno"
 * ```
 */
export const denoDriver: Driver = {
  name: "deno",
  lookupReadsHosts: false,
  tcpConnect,
  tcpListen,
  udpBind: denoUdpBind,
  // Deno.connect/listen take "\0name" as a Linux abstract name.
  unixAbstract: process.platform === "linux",
  unixConnect: denoUnixConnect,
  unixListen: denoUnixListen,
  unixDatagramUnsupported: denoUnixDatagramUnsupported,
  unixDatagramBind: denoUnixDatagramBind,
  lookup,
  checkTlsKeys,
  startTls: nodeStartTls,
  // TLS connections open node:net sockets: Deno's node:tls runs its native TLSWrap right on
  // their TCP handle, much faster than over a Duplex of Deno.connect's socket (docs/tls.md).
  // Flow control there stops the TCP handle, not the TLS socket (node/tls.ts, denoTlsFlow).
  tlsSockets: {
    tcpConnect: nodeDriver.tcpConnect,
    tcpListen: (request) => {
      const unsupported = unsupportedListen(request);
      return unsupported === undefined ? nodeDriver.tcpListen(request) : Promise.reject(unsupported);
    },
  },
};
