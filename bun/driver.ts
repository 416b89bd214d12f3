/**
 * The Bun driver, over `Bun.connect`, `Bun.listen` and `Bun.dns.lookup`.
 *
 * @module
 */
import process from "node:process";
import { formatSocketAddress, ipSocketAddress } from "../core/address.ts";
import type { IpAddress, IpSocketAddress } from "../core/address.ts";
import { AcceptQueue } from "../core/accept_queue.ts";
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
import { bun } from "./bun_api.ts";
import { acceptHandlers, BunConnection, bunConnect } from "./connection.ts";
import type { AnyBunSocket } from "./connection.ts";
import { bunError } from "./errors.ts";
import { bunUnixConnect, bunUnixListen } from "./unix.ts";
import { bunUdpBind } from "./udp.ts";
import { bunStartTls } from "./tls.ts";
import { BunTlsConnection, finishNativeTls, nativeListenable, nativeTlsConnect, nativeTlsListen } from "./native_tls.ts";
import { checkTlsKeys, nodeStartTls } from "../node/tls.ts";

function bunTcpEnds(socket: AnyBunSocket): ConnectionEnds<IpSocketAddress> {
  return tcpEnds(socket.localAddress, socket.localPort, socket.remoteAddress, socket.remotePort);
}

/** A client's ends: the remote one is the address it connected to (already canonical; Bun's getters are not free). */
function bunClientEnds(socket: AnyBunSocket, request: TcpConnectRequest): ConnectionEnds<IpSocketAddress> {
  return {
    protocol: "tcp",
    localAddress: ipSocketAddress(socket.localAddress, socket.localPort),
    remoteAddress: { address: request.address, port: request.port, family: request.family },
  };
}


async function tcpConnect(request: TcpConnectRequest): Promise<RawConnection> {
  // With `tls`, the socket speaks TLS from its first byte and `startTls` waits for its handshake.
  const tls = request.tls;
  const connection = tls?.side === "client"
    ? await nativeTlsConnect(request, tls, (socket) => bunClientEnds(socket, request))
    : await bunConnect(
      (socket) => bun().connect({ hostname: request.address, port: request.port, allowHalfOpen: true, socket }),
      bunTcpEnds,
      request.signal,
      "tcp.connect",
      formatSocketAddress(request),
    );
  if (request.noDelay) connection.setNoDelay(true);
  if (request.keepAlive) connection.setKeepAlive(true, 0);
  return connection;
}

function tcpListen(request: TcpListenRequest): Promise<RawListener> {
  const target = formatSocketAddress(request);
  if (request.backlog !== undefined) {
    return Promise.reject(socketError("not-supported", "tcp.listen", target, "Bun cannot set the backlog"));
  }
  const queue = new AcceptQueue<RawConnection>("tcp", target, (connection) => connection.close());
  const tls = request.tls;
  try {
    const listener = tls?.side === "server" && nativeListenable(tls)
      ? nativeTlsListen(request.address, request.port, request.ipv6Only, tls, queue, bunTcpEnds)
      : bun().listen({
        hostname: request.address,
        port: request.port,
        allowHalfOpen: true,
        ipv6Only: request.ipv6Only,
        socket: acceptHandlers(queue, bunTcpEnds),
      });
    return Promise.resolve({
      localAddress: ipSocketAddress(listener.hostname, listener.port),
      accept: () => queue.take(),
      close() {
        queue.close();
        listener.stop(false);
      },
    });
  } catch (error) {
    return Promise.reject(bunError(error, "tcp.listen", target));
  }
}

async function lookup(name: string, family: LookupFamily): Promise<IpAddress[]> {
  try {
    const answers = await bun().dns.lookup(name, { family: family === "ipv4" ? 4 : family === "ipv6" ? 6 : 0 });
    return answers.map((answer) => answer.address);
  } catch (error) {
    const failure = bunError(error, "resolve", name);
    const code = failure.code === "name-unresolvable" || failure.code === "permanent-resolver-failure"
      ? failure.code
      : "temporary-resolver-failure";
    throw socketError(code, "resolve", name, error instanceof Error ? error.message : String(error), error);
  }
}

/**
 * The Bun driver.
 *
 * @example Using `bunDriver`
 * ```ts ignore
 * import { bunDriver } from "./driver.ts";
 * console.log(bunDriver.name); // "bun"
 * ```
 */
export const bunDriver: Driver = {
  name: "bun",
  lookupReadsHosts: true,
  tcpConnect,
  tcpListen,
  udpBind: bunUdpBind,
  // Bun.connect/listen take "\0name" as a Linux abstract name.
  unixAbstract: process.platform === "linux",
  unixConnect: bunUnixConnect,
  unixListen: bunUnixListen,
  unixDatagramUnsupported: () =>
    "Bun.udpSocket binds IP addresses only, and Bun.listen/Bun.connect with `unix` are stream sockets",
  lookup,
  checkTlsKeys,
  // A socket opened with `tls` (bun/native_tls.ts) has its handshake under way: it is waited
  // for. Bun's own plain sockets upgrade natively (half-close works there, not with node:tls
  // over a stream around them); node:net sockets go to node:tls.
  startTls: (raw, options, signal) =>
    raw instanceof BunTlsConnection && !raw.claimed && raw.options === options
      ? finishNativeTls(raw, options, signal) as Promise<typeof raw>
      : raw instanceof BunConnection
      ? bunStartTls(raw, options, signal)
      : nodeStartTls(raw, options, signal),
};
