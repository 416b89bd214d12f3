/**
 * Accepted connections waiting for `accept()`, and `accept()` calls waiting for
 * connections. Used by every driver whose runtime hands connections over by callback.
 *
 * @module
 */
import { socketError } from "./errors.ts";

/** See the module doc. */
export class AcceptQueue<T> {
  readonly #ready: T[] = [];
  readonly #waiting: { resolve: (item: T) => void; reject: (error: unknown) => void }[] = [];
  readonly #label: string;
  readonly #discard: (item: T) => void;
  #closed = false;

  /**
   * @param protocol For messages: `tcp` or `unix`.
   * @param target For messages: the listening address.
   * @param discard Releases an accepted connection nobody took when the queue closes.
   */
  constructor(protocol: string, target: string, discard: (item: T) => void) {
    this.#label = `${protocol} ${target}`;
    this.#discard = discard;
  }

  /** Hands over a newly accepted connection. */
  push(item: T): void {
    if (this.#closed) {
      this.#discard(item);
      return;
    }
    const waiter = this.#waiting.shift();
    if (waiter !== undefined) waiter.resolve(item);
    else this.#ready.push(item);
  }

  /** The next connection. */
  take(): Promise<T> {
    if (this.#ready.length > 0) return Promise.resolve(this.#ready.shift() as T);
    if (this.#closed) return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  /** Rejects waiting takes, releases connections nobody took. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(this.#closedError());
    for (const item of this.#ready.splice(0)) this.#discard(item);
  }

  #closedError(): Error {
    return socketError("invalid-state", "accept", this.#label, "listener is closed");
  }
}
