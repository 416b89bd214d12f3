/**
 * One DNS exchange with one server: over UDP from a fresh socket (so the OS picks a
 * random source port), accepting only a reply from that server with our ID and our
 * question; or over TCP, with the 2-byte length framing.
 *
 * @module
 */
import { formatSocketAddress } from "../../core/address.ts";
import type { DatagramSink, Driver, RawUdpSocket } from "../../core/driver.ts";
import { SocketError, socketError } from "../../core/errors.ts";
import type { NameServer } from "./config.ts";
import { answersQuery, decodeResponse, frameForTcp, TcpFrameReader } from "./packet.ts";
import type { DecodedResponse, QueryType } from "./packet.ts";

/** One question to one server. */
export interface Exchange {
  driver: Driver;
  server: NameServer;
  id: number;
  name: string;
  type: QueryType;
  message: Uint8Array;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  /** Counts a datagram that was dropped: wrong source, ID or question. */
  onDropped(): void;
}

const LARGEST_TCP_ANSWER = 65_535 + 2;

const ids = new Uint16Array(256);
let nextId = ids.length;

/** A random 16-bit query ID from the platform's CSPRNG (drawn 256 at a time: one call costs microseconds). */
export function randomId(): number {
  if (nextId === ids.length) {
    crypto.getRandomValues(ids);
    nextId = 0;
  }
  return ids[nextId++];
}

/**
 * Asks over UDP. Resolves with the server's reply; rejects with
 * `temporary-resolver-failure` on timeout or a network error, or with
 * `permanent-resolver-failure` when the server's reply to our ID is malformed.
 */
export async function exchangeUdp(exchange: Exchange): Promise<DecodedResponse> {
  const { server, id, name, type } = exchange;
  const where = formatSocketAddress(server);
  let settle: { resolve(value: DecodedResponse): void; reject(error: unknown): void } | undefined;
  const settled = new Promise<DecodedResponse>((resolve, reject) => (settle = { resolve, reject }));
  // A socket error can come while the send is still pending, before anyone awaits this.
  settled.catch(() => {});
  const sink: DatagramSink = {
    message(datagram) {
      // Once answered, failed or timed out, later datagrams mean nothing: not even a drop.
      const done = settle;
      if (done === undefined) return;
      if (datagram.address !== server.address || datagram.port !== server.port || !sameId(datagram.data, id)) {
        exchange.onDropped();
        return;
      }
      let response: DecodedResponse;
      try {
        response = decodeResponse(datagram.data, name);
      } catch (error) {
        settle = undefined;
        done.reject(error);
        return;
      }
      if (!answersQuery(response, id, name, type)) {
        exchange.onDropped();
        return;
      }
      settle = undefined;
      done.resolve(response);
    },
    error(error) {
      const done = settle;
      settle = undefined;
      done?.reject(socketError("temporary-resolver-failure", "resolve", name, `${where}: ${error.message}`, error));
    },
  };
  let socket: RawUdpSocket | undefined;
  try {
    socket = await exchange.driver.udpBind(
      { address: server.family === "ipv6" ? "::" : "0.0.0.0", port: 0, family: server.family, reuseAddress: false, ipv6Only: false },
      sink,
    );
    await socket.send(exchange.message, server.address, server.port);
    return await withTimeout(settled, exchange, where);
  } catch (error) {
    throw asResolverError(error, name, where);
  } finally {
    // Nothing is read from the socket any more; closing it (a system call) waits until the
    // caller has its answer. The next macrotask is soon enough for every runtime's leak checks.
    settle = undefined;
    const open = socket;
    if (open !== undefined) setTimeout(() => open.close(), 0);
  }
}

/** Asks over TCP (after a truncated UDP answer). */
export async function exchangeTcp(exchange: Exchange): Promise<DecodedResponse> {
  const { server, id, name, type } = exchange;
  const where = formatSocketAddress(server);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), exchange.timeoutMs);
  const signal = exchange.signal === undefined ? controller.signal : AbortSignal.any([exchange.signal, controller.signal]);
  try {
    const conn = await exchange.driver.tcpConnect({
      address: server.address,
      port: server.port,
      family: server.family,
      signal,
      noDelay: true,
      keepAlive: false,
    });
    const onAbort = (): void => conn.close();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await conn.write(frameForTcp(exchange.message));
      const frames = new TcpFrameReader();
      const buffer = new Uint8Array(16 * 1024);
      let total = 0;
      while (total < LARGEST_TCP_ANSWER * 4) {
        const count = await conn.read(buffer);
        if (count === null) break;
        total += count;
        for (const frame of frames.push(buffer.subarray(0, count))) {
          if (!sameId(frame, id)) {
            exchange.onDropped();
            continue;
          }
          const response = decodeResponse(frame, name);
          if (answersQuery(response, id, name, type)) return response;
          exchange.onDropped();
        }
      }
      throw socketError("temporary-resolver-failure", "resolve", name, `${where} closed the TCP connection without an answer`);
    } finally {
      signal.removeEventListener("abort", onAbort);
      conn.close();
    }
  } catch (error) {
    if (exchange.signal?.aborted) throw exchange.signal.reason;
    if (controller.signal.aborted) {
      throw socketError("temporary-resolver-failure", "resolve", name, `${where} did not answer over TCP within ${exchange.timeoutMs} ms`);
    }
    throw asResolverError(error, name, where);
  } finally {
    clearTimeout(timer);
  }
}

function sameId(bytes: Uint8Array, id: number): boolean {
  return bytes.length >= 2 && ((bytes[0] << 8) | bytes[1]) === id;
}

function withTimeout(work: Promise<DecodedResponse>, exchange: Exchange, where: string): Promise<DecodedResponse> {
  return new Promise((resolve, reject) => {
    const { signal, timeoutMs, name } = exchange;
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      reject(socketError("temporary-resolver-failure", "resolve", name, `${where} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    work.then((value) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(value);
    }, (error: unknown) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      reject(error);
    });
  });
}

/** Network errors become temporary resolver failures; resolver codes and aborts pass. */
function asResolverError(error: unknown, name: string, where: string): unknown {
  if (!(error instanceof SocketError)) return error;
  if (error.code.endsWith("resolver-failure") || error.code === "name-unresolvable") return error;
  return socketError("temporary-resolver-failure", "resolve", name, `${where}: ${error.message}`, error);
}
