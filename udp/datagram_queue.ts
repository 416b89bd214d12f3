/**
 * Received datagrams waiting for `receive()`: at most `capacity`; past that the oldest
 * is dropped and counted, as a kernel's receive buffer would.
 *
 * @module
 */
import type { SocketError } from "../core/errors.ts";

interface Waiter<T> {
  resolve(item: T): void;
  reject(error: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** See the module doc. */
export class DatagramQueue<T> {
  /** Datagrams dropped because the queue was full. */
  dropped = 0;
  readonly #capacity: number;
  readonly #items: T[] = [];
  readonly #waiters: Waiter<T>[] = [];
  /** Why the queue ended: the error, or what makes it (on first need: a closed socket that nobody reads from makes none). */
  #failure: SocketError | (() => SocketError) | undefined;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** How many `take`s wait for a datagram (a receiver that pulls reads while this is > 0). */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Delivers to a waiting receiver, or queues (dropping the oldest when full). */
  push(item: T): void {
    if (this.#failure !== undefined) return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener("abort", waiter.onAbort);
      waiter.resolve(item);
      return;
    }
    if (this.#items.length >= this.#capacity) {
      this.#items.shift();
      this.dropped++;
    }
    this.#items.push(item);
  }

  /** The next datagram; rejects with `signal.reason` when aborted, or the failure once closed. */
  take(signal: AbortSignal | undefined): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift() as T);
    if (this.#failure !== undefined) return Promise.reject(this.#failureError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const waiter: Waiter<T> = { resolve, reject, signal, onAbort: undefined };
      if (signal !== undefined) {
        waiter.onAbort = () => {
          const index = this.#waiters.indexOf(waiter);
          if (index >= 0) this.#waiters.splice(index, 1);
          reject(signal.reason);
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#waiters.push(waiter);
    });
  }

  /**
   * Ends the queue: waiting and later takes reject with `failure` (queued datagrams are
   * discarded). A function is called only when a take needs the error, once.
   */
  fail(failure: SocketError | (() => SocketError)): void {
    if (this.#failure !== undefined) return;
    this.#failure = failure;
    this.#items.length = 0;
    if (this.#waiters.length === 0) return;
    const error = this.#failureError();
    for (const waiter of this.#waiters.splice(0)) {
      if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener("abort", waiter.onAbort);
      waiter.reject(error);
    }
  }

  #failureError(): SocketError {
    const failure = this.#failure as SocketError | (() => SocketError);
    if (typeof failure !== "function") return failure;
    const error = failure();
    this.#failure = error;
    return error;
  }
}
