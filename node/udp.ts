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
    socket.bind({ address: request.address, port: request.port }, () => {
      socket.off("error", onBindError);
      const bound = socket.address();
      const localAddress = ipSocketAddress(bound.address, bound.port);
      const label = formatSocketAddress(localAddress);
      socket.on("message", (data: Uint8Array, remote: dgram.RemoteInfo) => {
        if (!closed) sink.message({ data, address: ipSocketAddress(remote.address, remote.port).address, port: remote.port });
      });
      socket.on("error", (error: Error) => {
        if (!closed) sink.error(dgramError(error, "udp.receive", label));
      });
      resolve({
        localAddress,
        send: (data, address, port) =>
          new Promise<void>((done, fail) => {
            if (closed) {
              fail(socketError("invalid-state", "udp.send", label, "socket is closed"));
              return;
            }
            socket.send(data, port, address, (error) => {
              if (error) fail(dgramError(error, "udp.send", formatSocketAddress({ address, port })));
              else done();
            });
          }),
        close() {
          if (closed) return;
          closed = true;
          socket.close();
        },
      });
    });
  });
}
