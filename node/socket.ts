/**
 * Connecting and listening with `node:net`, the same way for TCP and Unix sockets.
 *
 * @module
 */
import net from "node:net";
import type { IpSocketAddress, UnixSocketAddress } from "../core/address.ts";
import { AcceptQueue } from "../core/accept_queue.ts";
import type { RawConnection, RawListener } from "../core/driver.ts";
import type { ConnectionEnds, StreamProtocol } from "../core/ends.ts";
import { NodeConnection, nodeError } from "./connection.ts";

type Address = IpSocketAddress | UnixSocketAddress;

/**
 * Opens a connection with `net.connect(options)`. Resolves once it is up; on failure or
 * abort the socket is destroyed and the promise rejects (mapped, or with `signal.reason`).
 *
 * @param ends The ends of the connected socket.
 */
export function connectSocket<A extends Address>(
  options: net.NetConnectOpts,
  signal: AbortSignal | undefined,
  ends: (socket: net.Socket) => ConnectionEnds<A>,
  operation: string,
  target: string,
): Promise<RawConnection<A>> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ ...options, allowHalfOpen: true });
    const cleanup = (): void => {
      socket.off("connect", onConnect);
      socket.off("error", onError);
      signal?.removeEventListener("abort", onAbort);
    };
    const onConnect = (): void => {
      cleanup();
      resolve(new NodeConnection(socket, ends(socket)));
    };
    const onError = (error: Error): void => {
      cleanup();
      socket.destroy();
      reject(nodeError(error, operation, target));
    };
    const onAbort = (): void => {
      cleanup();
      socket.destroy();
      reject(signal?.reason);
    };
    socket.once("connect", onConnect);
    socket.once("error", onError);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Listens with `server.listen(options)`. Node binds synchronously inside this call (the
 * Unix layer's umask relies on it); the promise settles once listening or failed.
 *
 * @param ends The ends of an accepted socket.
 * @param localAddress The listener's address, once it listens.
 */
export function listenServer<A extends Address>(
  options: net.ListenOptions,
  protocol: StreamProtocol,
  target: string,
  ends: (socket: net.Socket) => ConnectionEnds<A>,
  localAddress: (server: net.Server) => A,
): Promise<RawListener<A>> {
  return new Promise((resolve, reject) => {
    const queue = new AcceptQueue<RawConnection<A>>(protocol, target, (connection) => connection.close());
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      queue.push(new NodeConnection(socket, ends(socket)));
    });
    const onListenError = (error: Error): void => {
      server.close();
      reject(nodeError(error, `${protocol}.listen`, target));
    };
    server.once("error", onListenError);
    server.listen(options, () => {
      server.off("error", onListenError);
      server.on("error", () => {});
      resolve({
        localAddress: localAddress(server),
        accept: () => queue.take(),
        close() {
          queue.close();
          server.close();
        },
      });
    });
  });
}
