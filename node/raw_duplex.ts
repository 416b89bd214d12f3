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
  const queued = prefix.filter((chunk) => chunk.length > 0);
  const next = raw.readChunk !== undefined ? () => raw.readChunk!() : async () => {
    const buffer = new Uint8Array(CHUNK);
    const count = await raw.read(buffer);
    return count === null ? null : buffer.subarray(0, count);
  };
  const duplex: Duplex = new Duplex({
    read() {
      if (pulling) return;
      while (queued.length > 0) {
        if (!duplex.push(queued.shift()!)) return;
      }
      // A push may have called read() again, which has started pulling.
      if (pulling) return;
      pulling = true;
      const pump = (): void => {
        next().then((chunk) => {
          if (chunk === null) {
            pulling = false;
            duplex.push(null);
          } else if (duplex.push(chunk)) {
            pump();
          } else {
            pulling = false;
          }
        }, (error: unknown) => {
          pulling = false;
          duplex.destroy(error instanceof Error ? error : new Error(String(error)));
        });
      };
      pump();
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
  return duplex;
}
