/**
 * UDP for the Node driver, over `node:dgram`. The Deno driver uses it too when
 * `Deno.listenDatagram` is missing (it needs `--unstable-net`).
 *
 * @module
 */
import dgram from "node:dgram";
import { formatSocketAddress, ipSocketAddress } from "../core/address.ts";
import type { DatagramSink, RawUdpSocket, UdpBindRequest } from "../core/driver.ts";
import { codeFromErrno, errnoOf } from "../core/errno.ts";
import { SocketError, socketError } from "../core/errors.ts";

/** Maps a dgram error to a SocketError. */
export function dgramError(error: unknown, operation: string, target: string): SocketError {
  if (error instanceof SocketError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return socketError(codeFromErrno(errnoOf(error)), operation, target, message, error);
}

function asPromise(work: () => void): Promise<void> {
  try {
    work();
    return Promise.resolve();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Under Deno, this file runs on Deno's `node:dgram`. */
const onDeno = (globalThis as { Deno?: unknown }).Deno !== undefined;

/**
 * Deno's `node:dgram` (which this driver runs on under Deno) loses the errno of a failed send:
 * it reports `UNKNOWN`. The one
 * send failure a program causes on purpose is EACCES, sending to a broadcast address
 * without SO_BROADCAST: recognise it, so the code is `access-denied` as on every runtime.
 */
function recoverErrno(socket: RawUdpSocket): RawUdpSocket {
  let broadcast = false;
  return {
    ...socket,
    setBroadcast(on) {
      socket.setBroadcast(on);
      broadcast = on;
    },
    send(data, address, port, failed) {
      const recover = (error: unknown): never => {
        const likelyBroadcast = !address.includes(":") && address.endsWith(".255");
        if (error instanceof SocketError && error.code === "unknown" && !broadcast && likelyBroadcast) {
          throw socketError("access-denied", "udp.send", formatSocketAddress({ address, port }), "broadcast is off (setBroadcast)", error);
        }
        throw error;
      };
      if (failed === undefined) return socket.send(data, address, port)?.catch(recover);
      return socket.send(data, address, port, (error) => {
        try {
          recover(error);
        } catch (recovered) {
          failed(recovered);
        }
      });
    },
  };
}

/**
 * Binds a UDP socket with `node:dgram`.
 *
 * @param request Where to bind.
 * @param sink Receives datagrams and late errors.
 * @returns The bound socket.
 */
export function nodeUdpBind(request: UdpBindRequest, sink: DatagramSink): Promise<RawUdpSocket> {
  const target = formatSocketAddress(request);
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({
      type: request.family === "ipv6" ? "udp6" : "udp4",
      reuseAddr: request.reuseAddress,
      ipv6Only: request.ipv6Only,
    });
    let closed = false;
    const onBindError = (error: Error): void => {
      closed = true;
      socket.close();
      reject(dgramError(error, "udp.bind", target));
    };
    socket.once("error", onBindError);
    const peer = request.connect;
    const ready = (): void => {
      socket.off("error", onBindError);
      const bound = socket.address();
      const localAddress = ipSocketAddress(bound.address, bound.port);
      const remoteAddress = peer === undefined ? undefined : ipSocketAddress(peer.address, peer.port);
      const label = formatSocketAddress(localAddress);
      socket.on("message", (data: Uint8Array, remote: dgram.RemoteInfo) => {
        if (closed) return;
        // Node gives IPv4 senders as canonical dotted quads; only IPv6 text needs canonicalising.
        const address = remote.family === "IPv4" ? remote.address : ipSocketAddress(remote.address, remote.port).address;
        // Connected: the kernel lets only the peer through, but Deno's node:dgram does not connect.
        if (remoteAddress !== undefined && (remote.port !== remoteAddress.port || address !== remoteAddress.address)) return;
        // A plain Uint8Array view (no copy), the type every runtime gives.
        const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        sink.message({ data: bytes, address, port: remote.port });
      });
      socket.on("error", (error: Error) => {
        if (!closed) sink.error(dgramError(error, "udp.receive", label));
      });
      // Connected, dgram sends at once (no lookup, no tick) and takes no destination.
      const transmit = remoteAddress === undefined
        ? (data: Uint8Array, address: string, port: number, callback: (error: Error | null) => void) => socket.send(data, port, address, callback)
        : (data: Uint8Array, _address: string, _port: number, callback: (error: Error | null) => void) => socket.send(data, callback);
      const raw: RawUdpSocket = {
        localAddress,
        remoteAddress,
        send: (data, address, port, failed) => {
          if (failed !== undefined && !closed) {
            if (remoteAddress !== undefined) {
              // Connected, and only failures wanted: no callback, as a callback costs a tick per
              // datagram. What fails a connected socket (a refused port) comes as its error.
              socket.send(data);
              return undefined;
            }
            // dgram reports a send later: no promise, only failures.
            transmit(data, address, port, (error) => {
              if (error) failed(dgramError(error, "udp.send", formatSocketAddress({ address, port })));
            });
            return undefined;
          }
          return new Promise<void>((done, fail) => {
            if (closed) {
              fail(socketError("invalid-state", "udp.send", label, "socket is closed"));
              return;
            }
            transmit(data, address, port, (error) => {
              if (error) fail(dgramError(error, "udp.send", formatSocketAddress({ address, port })));
              else done();
            });
          });
        },
        close() {
          if (closed) return;
          closed = true;
          socket.close();
        },
        setBroadcast: (on) => option("setBroadcast", () => socket.setBroadcast(on)),
        setTtl: (ttl) => option("setTtl", () => socket.setTTL(ttl)),
        setMulticastTtl: (ttl) => option("setMulticastTtl", () => socket.setMulticastTTL(ttl)),
        setMulticastLoopback: (on) => option("setMulticastLoopback", () => socket.setMulticastLoopback(on)),
        joinMulticast: (group, iface) => asPromise(() => option("joinMulticast", () => socket.addMembership(group, iface))),
        leaveMulticast: (group, iface) => asPromise(() => option("leaveMulticast", () => socket.dropMembership(group, iface))),
      };
      resolve(onDeno ? recoverErrno(raw) : raw);
      function option(name: string, apply: () => unknown): void {
        if (closed) throw socketError("invalid-state", `udp.${name}`, label, "socket is closed");
        try {
          apply();
        } catch (error) {
          throw dgramError(error, `udp.${name}`, label);
        }
      }
    };
    socket.bind({ address: request.address, port: request.port }, () => {
      if (peer === undefined) return ready();
      socket.connect(peer.port, peer.address, (error?: Error) => {
        if (error === undefined || error === null) return ready();
        socket.off("error", onBindError);
        closed = true;
        socket.close();
        reject(dgramError(error, "udp.connect", formatSocketAddress(peer)));
      });
    });
  });
}
