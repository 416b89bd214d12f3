/**
 * Async iteration of a listener or socket: take items until it is closed.
 *
 * @module
 */
import { SocketError } from "./errors.ts";

/**
 * Yields `next()` until `closed()`; the `invalid-state` error that closing gives a pending
 * `next()` ends the iteration instead of escaping it. Other errors are thrown.
 *
 * @param next Takes the next item (accept, receive).
 * @param closed Whether the owner has been closed.
 * @returns The iterator.
 */
export async function* untilClosed<T>(next: () => Promise<T>, closed: () => boolean): AsyncGenerator<T, void, undefined> {
  while (!closed()) {
    try {
      yield await next();
    } catch (error) {
      if (error instanceof SocketError && error.code === "invalid-state" && closed()) return;
      throw error;
    }
  }
}
