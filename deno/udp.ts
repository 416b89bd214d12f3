/**
 * UDP for the Deno driver: `Deno.listenDatagram` when Deno runs with `--unstable-net`,
 * otherwise Deno's own `node:dgram`.
 *
 * @module
 */
import { formatSocketAddress, ipSocketAddress } from "../core/address.ts";
import type { DatagramSink, RawUdpSocket, UdpBindRequest } from "../core/driver.ts";
import { socketError } from "../core/errors.ts";
import { nodeUdpBind } from "../node/udp.ts";
import { deno } from "./deno_api.ts";
import type { DenoDatagramConn } from "./deno_api.ts";
import { denoError } from "./errors.ts";

const MAX_DATAGRAM = 65_536;

/**
 * Binds a UDP socket natively when Deno allows it, else through `node:dgram`.
 *
 * @param request Where to bind.
 * @param sink Receives datagrams and late errors.
 * @returns The bound socket.
 */
export function denoUdpBind(request: UdpBindRequest, sink: DatagramSink): Promise<RawUdpSocket> {
  const listenDatagram = deno().listenDatagram;
  if (listenDatagram === undefined) return nodeUdpBind(request, sink);
  const target = formatSocketAddress(request);
  if (request.ipv6Only) {
    return Promise.reject(socketError("not-supported", "udp.bind", target, "Deno.listenDatagram cannot set IPV6_V6ONLY"));
  }
  let conn: DenoDatagramConn;
  try {
    conn = listenDatagram({ hostname: request.address, port: request.port, transport: "udp", reuseAddress: request.reuseAddress });
  } catch (error) {
    return Promise.reject(denoError(error, "udp.bind", target));
  }
  const localAddress = ipSocketAddress(conn.addr.hostname, conn.addr.port);
  const label = formatSocketAddress(localAddress);
  let closed = false;
  (async () => {
    while (!closed) {
      try {
        const [data, from] = await conn.receive(new Uint8Array(MAX_DATAGRAM));
        const peer = ipSocketAddress(from.hostname, from.port);
        if (!closed) sink.message({ data: data.slice(), address: peer.address, port: peer.port });
      } catch (error) {
        if (!closed) {
          closed = true;
          sink.error(denoError(error, "udp.receive", label));
        }
      }
    }
  })();
  return Promise.resolve({
    localAddress,
    async send(data, address, port) {
      if (closed) throw socketError("invalid-state", "udp.send", label, "socket is closed");
      try {
        await conn.send(data, { transport: "udp", hostname: address, port });
      } catch (error) {
        throw denoError(error, "udp.send", formatSocketAddress({ address, port }));
      }
    },
    close() {
      if (closed) return;
      closed = true;
      conn.close();
    },
  });
}
