/**
 * The portable `Listener`: accepts connections from a driver's listening socket.
 *
 * @module
 */
import { untilClosed } from "./until_closed.ts";
import type { IpSocketAddress, UnixSocketAddress } from "./address.ts";
import { describeSocketAddress } from "./address.ts";
import { Connection } from "./connection.ts";
import type { TlsUpgrade } from "./connection.ts";
import type { RawConnection, RawListener } from "./driver.ts";
import { endsTarget } from "./ends.ts";
import type { StreamProtocol } from "./ends.ts";
import { socketError } from "./errors.ts";

/**
 * A listening socket. Accept connections one by one, or iterate:
 *
 * @example Serve an echo
 * ```ts ignore
 * import { tcp } from "../mod.ts";
 * await using listener = await tcp.listen({ hostname: "127.0.0.1", port: 0 });
 * for await (const conn of listener) {
 *   const buffer = new Uint8Array(1024);
 *   let count;
 *   while ((count = await conn.read(buffer)) !== null) await conn.write(buffer.subarray(0, count));
 *   conn.close();
 * }
 * ```
 */
export class Listener<A extends IpSocketAddress | UnixSocketAddress = IpSocketAddress | UnixSocketAddress>
  implements AsyncIterable<Connection<A>> {
  /** The address it listens on; with `port: 0`, the port the system picked. */
  readonly localAddress: A;
  readonly #raw: RawListener<A>;
  readonly #label: string;
  readonly #protocol: StreamProtocol;
  readonly #upgrade: TlsUpgrade | undefined;
  #closed = false;

  /**
   * Wraps a driver's listener. Internal: use `tcp.listen` or `unix.listen`.
   *
   * @param raw The driver's listener.
   * @param protocol `tcp` or `unix`, for messages.
   * @param driver The driver, for `startTls` on accepted connections (the server side).
   */
  constructor(raw: RawListener<A>, protocol: StreamProtocol, driver?: TlsUpgrade["driver"]) {
    this.#raw = raw;
    this.#upgrade = driver === undefined ? undefined : { driver, side: "server" };
    this.#protocol = protocol;
    this.localAddress = raw.localAddress;
    this.#label = `${protocol} ${describeAddress(raw.localAddress)}`;
  }

  /**
   * Waits for the next connection.
   *
   * @returns The accepted connection; rejects with `invalid-state` once the listener is closed.
   */
  async accept(): Promise<Connection<A>> {
    if (this.#closed) throw socketError("invalid-state", "accept", this.#label, "listener is closed");
    const raw: RawConnection<A> = await this.#raw.accept();
    const ends = { protocol: this.#protocol, localAddress: raw.localAddress, remoteAddress: raw.remoteAddress };
    return new Connection(raw, `${this.#protocol} ${endsTarget(ends)}`, this.#upgrade);
  }

  /** Stops listening. Connections already accepted stay open. Closing twice is harmless. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#raw.close();
  }

  /** Yields accepted connections until the listener is closed. */
  [Symbol.asyncIterator](): AsyncIterator<Connection<A>> {
    return untilClosed(() => this.accept(), () => this.#closed);
  }

  /** Closes the listener: `await using listener = await tcp.listen(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/** Text form of a socket address for messages. */
export function describeAddress(address: IpSocketAddress | UnixSocketAddress): string {
  return describeSocketAddress(address);
}
