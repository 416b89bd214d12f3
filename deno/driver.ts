/**
 * The Deno driver, over `Deno.connect`, `Deno.listen` and `Deno.resolveDns`.
 *
 * @module
 */
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
import { SocketError, socketError } from "../core/errors.ts";
import { denoError } from "./errors.ts";
import { denoUdpBind } from "./udp.ts";
import { deno } from "./deno_api.ts";
import type { DenoTcpConn, DenoTcpListener } from "./deno_api.ts";

class DenoConnection implements RawConnection {
  readonly localAddress: IpSocketAddress;
  readonly remoteAddress: IpSocketAddress;
  readonly closed: Promise<void>;
  readonly #conn: DenoTcpConn;
  readonly #target: string;
  #isClosed = false;
  #markClosed: () => void = () => {};

  constructor(conn: DenoTcpConn) {
    this.#conn = conn;
    this.localAddress = ipSocketAddress(conn.localAddr.hostname, conn.localAddr.port);
    this.remoteAddress = ipSocketAddress(conn.remoteAddr.hostname, conn.remoteAddr.port);
    this.#target = formatSocketAddress(this.remoteAddress);
    this.closed = new Promise((resolve) => (this.#markClosed = resolve));
  }

  read(buffer: Uint8Array): Promise<number | null> {
    return this.#conn.read(buffer).catch((error: unknown) => {
      if (this.#isClosed) return null;
      throw this.#fail(error, "tcp.read");
    });
  }

  async write(bytes: Uint8Array): Promise<void> {
    try {
      let offset = await this.#conn.write(bytes);
      while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
    } catch (error) {
      if (this.#isClosed) throw socketError("invalid-state", "tcp.write", this.#target, "connection is closed");
      throw this.#fail(error, "tcp.write");
    }
  }

  async closeWrite(): Promise<void> {
    try {
      await this.#conn.closeWrite();
    } catch (error) {
      throw this.#fail(error, "tcp.closeWrite");
    }
  }

  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    try {
      this.#conn.close();
    } catch {
      // Already released by the runtime after a failure.
    }
    this.#markClosed();
  }

  setNoDelay(on: boolean): void {
    this.#conn.setNoDelay(on);
  }

  setKeepAlive(on: boolean, delayMs?: number): void {
    if (delayMs !== undefined) {
      throw socketError("not-supported", "setKeepAlive", this.#target, "Deno cannot set the keep-alive delay");
    }
    this.#conn.setKeepAlive(on);
  }

  #fail(error: unknown, operation: string): SocketError {
    const failure = denoError(error, operation, this.#target);
    if (failure.code === "connection-reset" || failure.code === "connection-aborted") this.close();
    return failure;
  }
}

async function tcpConnect(request: TcpConnectRequest): Promise<RawConnection> {
  const target = formatSocketAddress(request);
  if (request.signal?.aborted) throw request.signal.reason;
  let conn: DenoTcpConn;
  try {
    conn = await deno().connect({ hostname: request.address, port: request.port, transport: "tcp", signal: request.signal });
  } catch (error) {
    if (request.signal?.aborted) throw request.signal.reason;
    throw denoError(error, "tcp.connect", target);
  }
  if (request.noDelay) conn.setNoDelay(true);
  if (request.keepAlive) conn.setKeepAlive(true);
  return new DenoConnection(conn);
}

function tcpListen(request: TcpListenRequest): Promise<RawListener> {
  const target = formatSocketAddress(request);
  if (request.backlog !== undefined) {
    return Promise.reject(socketError("not-supported", "tcp.listen", target, "Deno cannot set the backlog"));
  }
  if (request.ipv6Only) {
    return Promise.reject(socketError("not-supported", "tcp.listen", target, "Deno cannot set IPV6_V6ONLY"));
  }
  let listener: DenoTcpListener;
  try {
    listener = deno().listen({ hostname: request.address, port: request.port, transport: "tcp" });
  } catch (error) {
    return Promise.reject(denoError(error, "tcp.listen", target));
  }
  const localAddress = ipSocketAddress(listener.addr.hostname, listener.addr.port);
  const label = formatSocketAddress(localAddress);
  let closed = false;
  return Promise.resolve({
    localAddress,
    async accept(): Promise<RawConnection> {
      if (closed) throw socketError("invalid-state", "accept", `tcp ${label}`, "listener is closed");
      try {
        return new DenoConnection(await listener.accept());
      } catch (error) {
        if (closed) throw socketError("invalid-state", "accept", `tcp ${label}`, "listener is closed");
        throw denoError(error, "accept", `tcp ${label}`);
      }
    },
    close() {
      if (closed) return;
      closed = true;
      listener.close();
    },
  });
}

async function lookup(name: string, family: LookupFamily): Promise<IpAddress[]> {
  const types: ("A" | "AAAA")[] = family === "ipv4" ? ["A"] : family === "ipv6" ? ["AAAA"] : ["AAAA", "A"];
  const results = await Promise.allSettled(types.map((type) => deno().resolveDns(name, type)));
  const addresses = results.flatMap((result) => (result.status === "fulfilled" ? result.value : []));
  if (addresses.length > 0) return addresses;
  const failure = results.find((result) => result.status === "rejected" && !isNoRecords(result.reason));
  if (failure === undefined) return [];
  const reason = (failure as PromiseRejectedResult).reason;
  throw socketError("temporary-resolver-failure", "resolve", name, reason instanceof Error ? reason.message : String(reason), reason);
}

function isNoRecords(error: unknown): boolean {
  return error instanceof Error && error.name === "NotFound";
}

/**
 * The Deno driver.
 *
 * @example
 * ```ts ignore
 * import { denoDriver } from "./driver.ts";
 * console.log(denoDriver.name); // "deno"
 * ```
 */
export const denoDriver: Driver = { name: "deno", lookupReadsHosts: false, tcpConnect, tcpListen, udpBind: denoUdpBind, lookup };
