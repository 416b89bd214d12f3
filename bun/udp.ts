/**
 * UDP for the Bun driver, over `Bun.udpSocket`.
 *
 * @module
 */
import { formatSocketAddress, ipSocketAddress } from "../core/address.ts";
import type { DatagramSink, RawUdpSocket, UdpBindRequest } from "../core/driver.ts";
import { socketError } from "../core/errors.ts";
import { bun } from "./bun_api.ts";
import type { BunConnectedUdpSocket } from "./bun_api.ts";
import { bunError } from "./errors.ts";

/**
 * Binds a UDP socket with `Bun.udpSocket`.
 *
 * @param request Where to bind.
 * @param sink Receives datagrams and late errors.
 * @returns The bound socket.
 */
export async function bunUdpBind(request: UdpBindRequest, sink: DatagramSink): Promise<RawUdpSocket> {
  const target = formatSocketAddress(request);
  if (request.ipv6Only) throw socketError("not-supported", "udp.bind", target, "Bun.udpSocket cannot set IPV6_V6ONLY");
  let closed = false;
  const drains: (() => void)[] = [];
  const peer = request.connect;
  let socket;
  try {
    socket = await bun().udpSocket({
      binaryType: "uint8array",
      hostname: request.address,
      port: request.port,
      ...(peer === undefined ? {} : { connect: { hostname: peer.address, port: peer.port } }),
      socket: {
        data: (_socket, data, port, address) => {
          if (closed) return;
          // binaryType "uint8array" gives a plain Uint8Array, the type every runtime gives;
          // an IPv4 sender's address is already canonical.
          const canonical = address.includes(":") ? ipSocketAddress(address, port).address : address;
          sink.message({ data, address: canonical, port });
        },
        drain: () => {
          for (const wake of drains.splice(0)) wake();
        },
        error: (_socket, error) => {
          if (!closed) sink.error(bunError(error, "udp.receive", target));
        },
      },
    });
  } catch (error) {
    throw bunError(error, "udp.bind", target);
  }
  const bound = socket;
  const localAddress = ipSocketAddress(bound.address.address, bound.address.port);
  const label = formatSocketAddress(localAddress);
  const remoteAddress = peer === undefined ? undefined : ipSocketAddress(peer.address, peer.port);
  const connected = remoteAddress === undefined ? undefined : bound as unknown as BunConnectedUdpSocket;
  /** Sends one datagram; false when the send buffer is full. */
  const transmit = connected === undefined
    ? (data: Uint8Array, address: string, port: number) => bound.send(data, port, address)
    : (data: Uint8Array) => connected.send(data);
  return {
    localAddress,
    remoteAddress,
    send(data, address, port) {
      if (closed) return Promise.reject(socketError("invalid-state", "udp.send", label, "socket is closed"));
      try {
        if (transmit(data, address, port)) return undefined;
      } catch (error) {
        return Promise.reject(bunError(error, "udp.send", formatSocketAddress({ address, port })));
      }
      return sendWhenDrained(data, address, port);
    },
    sendMany(datagrams) {
      if (closed) return Promise.reject(socketError("invalid-state", "udp.sendMany", label, "socket is closed"));
      try {
        if (connected !== undefined) return Promise.resolve(connected.sendMany(datagrams.map((datagram) => datagram.data)));
        const packets: (Uint8Array | number | string)[] = [];
        for (const { data, address, port } of datagrams) packets.push(data, port, address);
        return Promise.resolve(bound.sendMany(packets));
      } catch (error) {
        return Promise.reject(bunError(error, "udp.sendMany", label));
      }
    },
    close() {
      if (closed) return;
      closed = true;
      bound.close();
      for (const wake of drains.splice(0)) wake();
    },
    setBroadcast: (on) => option("setBroadcast", () => bound.setBroadcast(on)),
    setTtl: (ttl) => option("setTtl", () => bound.setTTL(ttl)),
    setMulticastTtl: (ttl) => option("setMulticastTtl", () => bound.setMulticastTTL(ttl)),
    setMulticastLoopback: (on) => option("setMulticastLoopback", () => bound.setMulticastLoopback(on)),
    joinMulticast: (group, iface) => settled(() => option("joinMulticast", () => bound.addMembership(group, iface))),
    leaveMulticast: (group, iface) => settled(() => option("leaveMulticast", () => bound.dropMembership(group, iface))),
  };
  /** The send buffer was full: tries again on each 'drain', up to 16 times. */
  async function sendWhenDrained(data: Uint8Array, address: string, port: number): Promise<void> {
    for (let tries = 0; ; tries++) {
      if (tries >= 16) throw socketError("out-of-memory", "udp.send", formatSocketAddress({ address, port }), "send buffer stays full");
      await new Promise<void>((wake) => drains.push(wake));
      if (closed) throw socketError("invalid-state", "udp.send", label, "socket is closed");
      let sent: boolean;
      try {
        sent = transmit(data, address, port);
      } catch (error) {
        throw bunError(error, "udp.send", formatSocketAddress({ address, port }));
      }
      if (sent) return;
    }
  }

  /** `run`'s outcome as a promise: resolved, or rejected with what it threw. */
  function settled(run: () => void): Promise<void> {
    try {
      run();
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  function option(name: string, apply: () => unknown): void {
    if (closed) throw socketError("invalid-state", `udp.${name}`, label, "socket is closed");
    try {
      apply();
    } catch (error) {
      throw bunError(error, `udp.${name}`, label);
    }
  }
}
