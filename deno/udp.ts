/**
 * UDP for the Deno driver: `Deno.listenDatagram` when Deno runs with `--unstable-net`,
 * otherwise Deno's own `node:dgram`. A `connect` in the bind request is honoured by the
 * latter only (Deno's `node:dgram` records the peer, and the Node driver's code checks
 * each sender); `Deno.listenDatagram` cannot connect, so its sockets stay unconnected
 * (`remoteAddress` undefined) and send to the address given.
 *
 * @module
 */
import { formatSocketAddress, ipSocketAddress } from "../core/address.ts";
import type { DatagramSink, RawUdpSocket, UdpBindRequest } from "../core/driver.ts";
import { socketError } from "../core/errors.ts";
import { nodeUdpBind } from "../node/udp.ts";
import { deno } from "./deno_api.ts";
import type { DenoDatagramConn, DenoMembership } from "./deno_api.ts";
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
  let conn: DenoDatagramConn;
  try {
    conn = listenDatagram({
      hostname: request.address,
      port: request.port,
      transport: "udp",
      reuseAddress: request.reuseAddress,
      ipv6Only: request.ipv6Only,
    });
  } catch (error) {
    return Promise.reject(denoError(error, "udp.bind", target));
  }
  const localAddress = ipSocketAddress(conn.addr.hostname, conn.addr.port);
  const label = formatSocketAddress(localAddress);
  let closed = false;
  const memberships = new Map<string, DenoMembership>();
  const multicast: { ttl?: number; loopback?: boolean } = {};
  const buffer = new Uint8Array(MAX_DATAGRAM);
  (async () => {
    while (!closed) {
      try {
        // One buffer for every receive; each datagram is copied out at its own length.
        const [data, from] = await conn.receive(buffer);
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
    setBroadcast: () => unsupported("setBroadcast"),
    setTtl: () => unsupported("setTtl"),
    // Deno sets these per membership: kept, and applied to every group joined.
    setMulticastTtl: (ttl) => {
      multicast.ttl = ttl;
      for (const membership of memberships.values()) membership.setTTL(ttl).catch(() => {});
    },
    setMulticastLoopback: (on) => {
      multicast.loopback = on;
      for (const membership of memberships.values()) membership.setLoopback(on).catch(() => {});
    },
    async joinMulticast(group, iface) {
      const key = `${group} ${iface ?? ""}`;
      try {
        const membership = group.includes(":")
          ? await conn.joinMulticastV6(group, 0)
          : await conn.joinMulticastV4(group, iface ?? "0.0.0.0");
        if (multicast.ttl !== undefined) await membership.setTTL(multicast.ttl);
        if (multicast.loopback !== undefined) await membership.setLoopback(multicast.loopback);
        memberships.set(key, membership);
      } catch (error) {
        throw denoError(error, "udp.joinMulticast", group);
      }
    },
    async leaveMulticast(group, iface) {
      const key = `${group} ${iface ?? ""}`;
      const membership = memberships.get(key);
      if (membership === undefined) throw socketError("invalid-state", "udp.leaveMulticast", group, "not a member");
      memberships.delete(key);
      try {
        await membership.leave();
      } catch (error) {
        throw denoError(error, "udp.leaveMulticast", group);
      }
    },
  });

  function unsupported(option: string): never {
    throw socketError("not-supported", `udp.${option}`, label, "Deno.listenDatagram has no such option (run without --unstable-net to use node:dgram)");
  }
}
