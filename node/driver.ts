/**
 * The Node.js driver, over `node:net` and `node:dns`. Deno and Bun can load it too,
 * through their `node:` compatibility.
 *
 * @module
 */
import dns from "node:dns";
import net from "node:net";
import { formatSocketAddress, ipSocketAddress } from "../core/address.ts";
import type { IpAddress, IpSocketAddress } from "../core/address.ts";
import { ChunkReader } from "../core/chunk_reader.ts";
import type {
  Driver,
  LookupFamily,
  RawConnection,
  RawListener,
  TcpConnectRequest,
  TcpListenRequest,
} from "../core/driver.ts";
import { codeFromErrno, errnoOf } from "../core/errno.ts";
import { SocketError, socketError } from "../core/errors.ts";
import { AcceptQueue } from "../core/accept_queue.ts";
import { nodeUdpBind } from "./udp.ts";

/** Maps a Node error to a SocketError for `operation` on `target`. */
function nodeError(error: unknown, operation: string, target: string): SocketError {
  if (error instanceof SocketError) return error;
  const errno = errnoOf(error);
  const message = error instanceof Error ? error.message : String(error);
  return socketError(codeFromErrno(errno), operation, target, message, error);
}

class NodeConnection implements RawConnection {
  readonly localAddress: IpSocketAddress;
  readonly remoteAddress: IpSocketAddress;
  readonly closed: Promise<void>;
  readonly #socket: net.Socket;
  readonly #reader: ChunkReader;
  readonly #target: string;
  #failure: SocketError | undefined;

  constructor(socket: net.Socket) {
    this.#socket = socket;
    this.localAddress = ipSocketAddress(socket.localAddress ?? "", socket.localPort ?? 0);
    this.remoteAddress = ipSocketAddress(socket.remoteAddress ?? "", socket.remotePort ?? 0);
    this.#target = formatSocketAddress(this.remoteAddress);
    const reader = new ChunkReader({ pause: () => socket.pause(), resume: () => socket.resume() });
    this.#reader = reader;
    socket.on("data", (chunk: Buffer) => reader.push(chunk, true));
    socket.on("end", () => reader.end());
    socket.on("error", (error: Error) => {
      const failure = nodeError(error, "tcp.read", this.#target);
      this.#failure ??= failure;
      reader.fail(failure);
    });
    this.closed = new Promise((resolve) => {
      socket.once("close", () => {
        reader.end();
        resolve();
      });
    });
  }

  read(buffer: Uint8Array): Promise<number | null> {
    return this.#reader.read(buffer);
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#failure !== undefined) {
      return Promise.reject(socketError(this.#failure.code, "tcp.write", this.#target, undefined, this.#failure.cause));
    }
    return new Promise((resolve, reject) => {
      this.#socket.write(bytes, (error) => {
        if (error === undefined || error === null) resolve();
        else reject(this.#failure !== undefined
          ? socketError(this.#failure.code, "tcp.write", this.#target, undefined, error)
          : nodeError(error, "tcp.write", this.#target));
      });
    });
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#socket.end(() => resolve()));
  }

  close(): void {
    this.#reader.end();
    this.#socket.destroy();
  }

  setNoDelay(on: boolean): void {
    this.#socket.setNoDelay(on);
  }

  setKeepAlive(on: boolean, delayMs?: number): void {
    this.#socket.setKeepAlive(on, delayMs ?? 0);
  }
}

function tcpConnect(request: TcpConnectRequest): Promise<RawConnection> {
  const target = formatSocketAddress(request);
  const signal = request.signal;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: request.address,
      port: request.port,
      family: request.family === "ipv6" ? 6 : 4,
      localAddress: request.localAddress,
      noDelay: request.noDelay,
      keepAlive: request.keepAlive,
      allowHalfOpen: true,
      autoSelectFamily: false,
    });
    const cleanup = (): void => {
      socket.off("connect", onConnect);
      socket.off("error", onError);
      signal?.removeEventListener("abort", onAbort);
    };
    const onConnect = (): void => {
      cleanup();
      resolve(new NodeConnection(socket));
    };
    const onError = (error: Error): void => {
      cleanup();
      socket.destroy();
      reject(nodeError(error, "tcp.connect", target));
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

function tcpListen(request: TcpListenRequest): Promise<RawListener> {
  const target = formatSocketAddress(request);
  return new Promise((resolve, reject) => {
    const queue = new AcceptQueue<RawConnection>("tcp", target, (connection) => connection.close());
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      queue.push(new NodeConnection(socket));
    });
    const onListenError = (error: Error): void => {
      server.close();
      reject(nodeError(error, "tcp.listen", target));
    };
    server.once("error", onListenError);
    server.listen({ host: request.address, port: request.port, backlog: request.backlog, ipv6Only: request.ipv6Only }, () => {
      server.off("error", onListenError);
      server.on("error", () => {});
      const bound = server.address() as net.AddressInfo;
      const localAddress = ipSocketAddress(bound.address, bound.port);
      resolve({
        localAddress,
        accept: () => queue.take(),
        close() {
          queue.close();
          server.close();
        },
      });
    });
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
 * @example
 * ```ts ignore
 * import { nodeDriver } from "./driver.ts";
 * console.log(nodeDriver.name); // "node"
 * ```
 */
export const nodeDriver: Driver = { name: "node", lookupReadsHosts: true, tcpConnect, tcpListen, udpBind: nodeUdpBind, lookup };
