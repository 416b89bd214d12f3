/**
 * One DNS exchange with one server: over UDP from a small pool of sockets on random
 * source ports (`./udp_pool.ts`), accepting only a reply from that server with our ID and
 * our question (DNS 0x20: in the exact case sent); or over TCP, with the 2-byte length
 * framing.
 *
 * @module
 */
import { formatSocketAddress } from "../../core/address.ts";
import type { Driver } from "../../core/driver.ts";
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
  /**
   * UDP: `message` is this exchange's alone and its name is in lower case, so the pool may
   * write the 0x20 case into it instead of into a copy.
   */
  ownMessage?: boolean;
  /** UDP: the most queries one pooled socket carries (default 100); a socket past it takes no more. */
  maxQueriesPerSocket?: number;
}

const LARGEST_TCP_ANSWER = 65_535 + 2;

export { exchangeUdp, randomId, sendUdp } from "./udp_pool.ts";
export type { ExchangeSink } from "./udp_pool.ts";

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

/** Network errors become temporary resolver failures; resolver codes and aborts pass. */
function asResolverError(error: unknown, name: string, where: string): unknown {
  if (!(error instanceof SocketError)) return error;
  if (error.code.endsWith("resolver-failure") || error.code === "name-unresolvable") return error;
  return socketError("temporary-resolver-failure", "resolve", name, `${where}: ${error.message}`, error);
}
