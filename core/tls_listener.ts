/**
 * A listener whose connections are TLS: it accepts plaintext connections from the driver
 * as fast as they come, runs each handshake on its own (a slow or failing client holds up
 * no one), and hands out only the connections whose handshake succeeded. A failed
 * handshake closes its connection and the listener goes on.
 *
 * @module
 */
import { AcceptQueue } from "./accept_queue.ts";
import { describeSocketAddress } from "./address.ts";
import type { IpSocketAddress, UnixSocketAddress } from "./address.ts";
import type { RawConnection, RawListener } from "./driver.ts";
import type { StreamProtocol } from "./ends.ts";

/** Wait before accepting again after an accept failed for another reason than closing. */
const RETRY_MS = 10;

/**
 * Handshakes under way plus finished connections nobody has taken, past which the listener
 * stops accepting (the kernel's backlog then holds the rest, as for a plaintext listener).
 */
const IN_FLIGHT_LIMIT = 128;

/**
 * Wraps a plaintext listener.
 *
 * @param raw The driver's listener; owned from now on.
 * @param protocol For messages.
 * @param handshake Runs the server side of TLS over one accepted connection.
 * @returns A listener of TLS connections.
 */
export function tlsRawListener<A extends IpSocketAddress | UnixSocketAddress>(
  raw: RawListener<A>,
  protocol: StreamProtocol,
  handshake: (connection: RawConnection<A>) => Promise<RawConnection<A>>,
): RawListener<A> {
  const queue = new AcceptQueue<RawConnection<A>>(protocol, describeSocketAddress(raw.localAddress), (connection) => connection.close());
  const handshaking = new Set<RawConnection<A>>();
  let closed = false;
  /** Finished connections in the queue, not yet taken by `accept()`. */
  let untaken = 0;
  let wake: (() => void) | undefined;
  const room = (): void => {
    const waiting = wake;
    wake = undefined;
    waiting?.();
  };
  const loop = async (): Promise<void> => {
    while (!closed) {
      while (!closed && handshaking.size + untaken >= IN_FLIGHT_LIMIT) {
        await new Promise<void>((resolve) => (wake = resolve));
      }
      if (closed) return;
      let connection: RawConnection<A>;
      try {
        connection = await raw.accept();
      } catch {
        if (closed) return;
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        continue;
      }
      if (closed) {
        connection.close();
        return;
      }
      handshaking.add(connection);
      // Called inside a promise, so that a throw cannot end this loop.
      Promise.resolve(connection).then(handshake).then(
        (secure) => {
          handshaking.delete(connection);
          untaken++;
          queue.push(secure);
        },
        () => {
          handshaking.delete(connection);
          room();
        },
      );
    }
  };
  void loop();
  return {
    localAddress: raw.localAddress,
    accept: () =>
      queue.take().then((connection) => {
        untaken--;
        room();
        return connection;
      }),
    close(): void {
      if (closed) return;
      closed = true;
      raw.close();
      queue.close();
      for (const connection of handshaking) connection.close();
      handshaking.clear();
      room();
    },
  };
}
