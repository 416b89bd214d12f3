/**
 * A `node:stream` `Duplex` over a driver connection, so that `node:tls` can run on a
 * connection of any driver (Deno's and Bun's native sockets).
 *
 * @module
 */
import { Duplex } from "node:stream";
import type { IpSocketAddress, UnixSocketAddress } from "../core/address.ts";
import type { RawConnection } from "../core/driver.ts";

const CHUNK = 64 * 1024;

/**
 * Wraps `raw`: reads give `prefix` first, then pull from it (bytes it had received and not
 * handed out come first), writes go to it in order, `end()` half-closes it, `destroy()`
 * closes it.
 *
 * @param raw The connection; the duplex owns it from now on.
 * @param prefix Bytes already read from `raw` (a peeked ClientHello): the first bytes the duplex gives, in order. The duplex owns them.
 * @returns The duplex.
 *
 * @example `node:tls` over a driver connection
 * ```ts ignore
 * import tls from "node:tls";
 * import { rawDuplex } from "./raw_duplex.ts";
 * const secure = tls.connect({ socket: rawDuplex(raw), servername: "example.com" });
 * ```
 */
export function rawDuplex<A extends IpSocketAddress | UnixSocketAddress>(raw: RawConnection<A>, prefix: Uint8Array[] = []): Duplex {
  let pulling = false;
  /** Whether the reader of the duplex wants more; a pull goes on while it does. */
  let wanted = false;
  /** Held by `holdRawDuplex`: nothing is pulled from `raw` until released. */
  let held = false;
  const queued = prefix.filter((chunk) => chunk.length > 0);
  const next = chunkReader(raw);
  const pump = (): void => {
    if (held) {
      pulling = false;
      return;
    }
    next().then((chunk) => {
      if (chunk === null) {
        pulling = false;
        duplex.push(null);
      } else if (duplex.push(chunk)) {
        pump();
      } else {
        pulling = false;
        wanted = false;
      }
    }, (error: unknown) => {
      pulling = false;
      duplex.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  };
  const start = (): void => {
    if (pulling || held) return;
    while (queued.length > 0) {
      if (!duplex.push(queued.shift()!)) {
        wanted = false;
        return;
      }
    }
    // A push may have called read() again, which has started pulling.
    if (pulling) return;
    pulling = true;
    pump();
  };
  const duplex: Duplex = new Duplex({
    read() {
      wanted = true;
      start();
    },
    write(chunk: Uint8Array, _encoding, callback) {
      const pending = raw.write(chunk);
      if (pending === undefined) callback();
      else pending.then(() => callback(), callback);
    },
    final(callback) {
      raw.closeWrite().then(() => callback(), callback);
    },
    destroy(error, callback) {
      raw.close();
      callback(error);
    },
  });
  holds.set(duplex, (on) => {
    held = on;
    if (!on && wanted) start();
  });
  return duplex;
}

/**
 * The next received bytes of `raw` as a chunk of their own, or null at its end: the driver's
 * own chunk where it hands them over, else a read into a fresh buffer.
 *
 * @example Reading the first chunk
 * ```ts ignore
 * const first = await chunkReader(raw)();
 * ```
 *
 * @param raw The connection.
 * @returns A function that reads the next chunk.
 */
export function chunkReader<A extends IpSocketAddress | UnixSocketAddress>(raw: RawConnection<A>): () => Promise<Uint8Array | null> {
  if (raw.readChunk !== undefined) return () => raw.readChunk!();
  return async () => {
    const buffer = new Uint8Array(CHUNK);
    const count = await raw.read(buffer);
    return count === null ? null : buffer.subarray(0, count);
  };
}

const holds = new WeakMap<Duplex, (on: boolean) => void>();

/**
 * Stops (`true`) or restarts pulling bytes from the connection under a duplex made by
 * `rawDuplex`: flow control below a TLS socket, for a runtime whose TLS socket loses its
 * end of stream when paused itself (Deno).
 *
 * @example Holding the bytes back while a reader is full
 * ```ts ignore
 * holdRawDuplex(duplex, true);
 * holdRawDuplex(duplex, false);
 * ```
 *
 * @param duplex A duplex from `rawDuplex`; anything else is left alone.
 * @param on Whether to hold.
 */
export function holdRawDuplex(duplex: Duplex, on: boolean): void {
  holds.get(duplex)?.(on);
}
