/**
 * The Bun driver, over `Bun.connect`, `Bun.listen` and `Bun.dns.lookup`.
 *
 * @module
 */
import { formatSocketAddress, ipSocketAddress } from "../core/address.ts";
import type { IpAddress, IpSocketAddress } from "../core/address.ts";
import { AcceptQueue } from "../core/accept_queue.ts";
import { ChunkReader } from "../core/chunk_reader.ts";
import type {
  Driver,
  LookupFamily,
  RawConnection,
  RawListener,
  TcpConnectRequest,
  TcpListenRequest,
} from "../core/driver.ts";
import { SocketError, socketError } from "../core/errors.ts";
import { bun } from "./bun_api.ts";
import { bunError } from "./errors.ts";
import { bunUdpBind } from "./udp.ts";
import type { BunSocket, BunSocketHandler } from "./bun_api.ts";

interface PendingWrite {
  rest: Uint8Array;
  resolve: () => void;
  reject: (error: SocketError) => void;
}

/** One Bun socket's state; Bun calls the shared handlers below with it as `socket.data`. */
class BunConnection implements RawConnection {
  readonly localAddress: IpSocketAddress;
  readonly remoteAddress: IpSocketAddress;
  readonly closed: Promise<void>;
  readonly reader: ChunkReader;
  readonly #socket: BunSocket<BunConnection>;
  readonly #target: string;
  #pending: PendingWrite | undefined;
  #failure: SocketError | undefined;
  #gone = false;
  #markClosed: () => void = () => {};

  constructor(socket: BunSocket<BunConnection>) {
    this.#socket = socket;
    this.localAddress = ipSocketAddress(socket.localAddress, socket.localPort);
    this.remoteAddress = ipSocketAddress(socket.remoteAddress, socket.remotePort);
    this.#target = formatSocketAddress(this.remoteAddress);
    this.reader = new ChunkReader({ pause: () => socket.pause(), resume: () => socket.resume() });
    this.closed = new Promise((resolve) => (this.#markClosed = resolve));
  }

  read(buffer: Uint8Array): Promise<number | null> {
    return this.reader.read(buffer);
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#writeError());
    if (this.#gone) return Promise.reject(socketError("invalid-state", "tcp.write", this.#target, "connection is closed"));
    const written = this.#socket.write(bytes);
    if (written === bytes.length) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#pending = { rest: bytes.subarray(Math.max(written, 0)), resolve, reject };
    });
  }

  /** Bun says the socket can take more: write what is left. */
  onDrain(): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    const written = this.#socket.write(pending.rest);
    if (written === pending.rest.length) {
      this.#pending = undefined;
      pending.resolve();
    } else if (written > 0) {
      pending.rest = pending.rest.subarray(written);
    }
  }

  closeWrite(): Promise<void> {
    if (!this.#gone) this.#socket.shutdown();
    return Promise.resolve();
  }

  close(): void {
    if (this.#gone) return;
    this.reader.end();
    this.#socket.end();
    this.onClose(undefined);
  }

  /** The socket is gone: by us, the peer, or an error. */
  onClose(error: Error | undefined): void {
    if (error !== undefined) this.onError(error);
    if (this.#gone) return;
    this.#gone = true;
    this.reader.end();
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(this.#failure !== undefined
      ? this.#writeError()
      : socketError("invalid-state", "tcp.write", this.#target, "connection closed before the write finished"));
    this.#markClosed();
  }

  onError(error: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = bunError(error, "tcp.read", this.#target);
    this.reader.fail(this.#failure);
  }

  setNoDelay(on: boolean): void {
    this.#socket.setNoDelay(on);
  }

  setKeepAlive(on: boolean, delayMs?: number): void {
    this.#socket.setKeepAlive(on, delayMs ?? 0);
  }

  #writeError(): SocketError {
    const failure = this.#failure as SocketError;
    return socketError(failure.code, "tcp.write", this.#target, undefined, failure.cause);
  }
}

/** Handlers shared by every socket; the state lives in `socket.data`. */
const HANDLERS: BunSocketHandler<BunConnection> = {
  data: (socket, data) => socket.data.reader.push(data, true),
  drain: (socket) => socket.data.onDrain(),
  end: (socket) => socket.data.reader.end(),
  error: (socket, error) => socket.data?.onError(error),
  close: (socket, error) => socket.data?.onClose(error),
};

async function tcpConnect(request: TcpConnectRequest): Promise<RawConnection> {
  const target = formatSocketAddress(request);
  const signal = request.signal;
  if (signal?.aborted) throw signal.reason;
  let socket: BunSocket<BunConnection>;
  try {
    socket = await new Promise<BunSocket<BunConnection>>((resolve, reject) => {
      const onAbort = (): void => reject(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      bun().connect<BunConnection>({
        hostname: request.address,
        port: request.port,
        allowHalfOpen: true,
        socket: { ...HANDLERS, open: (s) => void (s.data = new BunConnection(s)) },
      }).then((s) => {
        signal?.removeEventListener("abort", onAbort);
        if (signal?.aborted) s.terminate();
        else resolve(s);
      }, (error: unknown) => {
        signal?.removeEventListener("abort", onAbort);
        reject(error);
      });
    });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw bunError(error, "tcp.connect", target);
  }
  if (request.noDelay) socket.setNoDelay(true);
  if (request.keepAlive) socket.setKeepAlive(true, 0);
  return socket.data;
}

function tcpListen(request: TcpListenRequest): Promise<RawListener> {
  const target = formatSocketAddress(request);
  if (request.backlog !== undefined) {
    return Promise.reject(socketError("not-supported", "tcp.listen", target, "Bun cannot set the backlog"));
  }
  const queue = new AcceptQueue<RawConnection>("tcp", target, (connection) => connection.close());
  try {
    const listener = bun().listen<BunConnection>({
      hostname: request.address,
      port: request.port,
      allowHalfOpen: true,
      ipv6Only: request.ipv6Only,
      socket: {
        ...HANDLERS,
        open: (socket) => {
          socket.data = new BunConnection(socket);
          queue.push(socket.data);
        },
      },
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
    throw socketError(code, "resolve", name, failure.message, error);
  }
}

/**
 * The Bun driver.
 *
 * @example
 * ```ts ignore
 * import { bunDriver } from "./driver.ts";
 * console.log(bunDriver.name); // "bun"
 * ```
 */
export const bunDriver: Driver = { name: "bun", lookupReadsHosts: true, tcpConnect, tcpListen, udpBind: bunUdpBind, lookup };
