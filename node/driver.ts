/**
 * The Node.js driver, over `node:net` and `node:dns`. Deno and Bun can load it too,
 * through their `node:` compatibility.
 *
 * @module
 */
import dns from "node:dns";
import type net from "node:net";
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
import { codeFromErrno, errnoOf } from "../core/errno.ts";
import { socketError } from "../core/errors.ts";
import { tcpEnds } from "../core/ends.ts";
import type { ConnectionEnds } from "../core/ends.ts";
import { connectSocket, listenServer } from "./socket.ts";
import { nodeUnixConnect, nodeUnixListen } from "./unix.ts";
import { nodeUdpBind } from "./udp.ts";
import { checkTlsKeys, nodeStartTls } from "./tls.ts";

function nodeTcpEnds(socket: net.Socket): ConnectionEnds<IpSocketAddress> {
  return tcpEnds(socket.localAddress, socket.localPort, socket.remoteAddress, socket.remotePort);
}

function tcpConnect(request: TcpConnectRequest): Promise<RawConnection> {
  const options: net.NetConnectOpts = {
    host: request.address,
    port: request.port,
    family: request.family === "ipv6" ? 6 : 4,
    localAddress: request.localAddress,
    noDelay: request.noDelay,
    keepAlive: request.keepAlive,
    autoSelectFamily: false,
  };
  return connectSocket(options, request.signal, nodeTcpEnds, "tcp.connect", formatSocketAddress(request));
}

function tcpListen(request: TcpListenRequest): Promise<RawListener> {
  const options = { host: request.address, port: request.port, backlog: request.backlog, ipv6Only: request.ipv6Only };
  return listenServer(options, "tcp", formatSocketAddress(request), nodeTcpEnds, (server) => {
    const bound = server.address() as net.AddressInfo;
    return ipSocketAddress(bound.address, bound.port);
  });
}

async function lookup(name: string, family: LookupFamily): Promise<IpAddress[]> {
  try {
    const answers = await dns.promises.lookup(name, {
      all: true,
      family: family === "ipv4" ? 4 : family === "ipv6" ? 6 : 0,
      order: "verbatim",
    });
    return answers.map((answer) => answer.address);
  } catch (error) {
    const code = codeFromErrno(errnoOf(error));
    const resolverCode = code === "name-unresolvable" || code === "permanent-resolver-failure" || code === "invalid-argument"
      ? code
      : "temporary-resolver-failure";
    const message = error instanceof Error ? error.message : String(error);
    throw socketError(resolverCode, "resolve", name, message, error);
  }
}

/**
 * The Node driver.
 *
 * @example Using `nodeDriver`
 * ```ts ignore
 * import { nodeDriver } from "./driver.ts";
 * console.log(nodeDriver.name); // "node"
 * ```
 */
export const nodeDriver: Driver = {
  name: "node",
  lookupReadsHosts: true,
  tcpConnect,
  tcpListen,
  udpBind: nodeUdpBind,
  // Linux only; node:net takes "\0name" on Node, and on Deno and Bun through their node: layers.
  unixAbstract: process.platform === "linux",
  unixConnect: nodeUnixConnect,
  unixListen: nodeUnixListen,
  unixDatagramUnsupported: () => "node:dgram has no Unix domain sockets (its socket types are udp4 and udp6)",
  lookup,
  checkTlsKeys,
  startTls: nodeStartTls,
};
