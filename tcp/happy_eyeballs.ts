/**
 * Happy Eyeballs (RFC 8305 §5): race connection attempts over a list of addresses,
 * starting one more every `stagger` ms or as soon as the latest one fails. The first to
 * connect wins; the others are aborted, and any that connect anyway are released.
 *
 * @module
 */
import { SocketError } from "../core/errors.ts";

/** The delay between two attempts that RFC 8305 recommends. */
export const CONNECTION_ATTEMPT_DELAY_MS = 250;

/** One address's attempt failed: the address and the error. */
export interface FailedAttempt<A> {
  address: A;
  error: unknown;
}

/**
 * Races `attempt` over `addresses` (already in preference order).
 *
 * @param addresses The addresses to try, best first. Must not be empty.
 * @param attempt Opens one connection; must honour its signal.
 * @param release Closes a connection that lost the race.
 * @param signal Aborts everything; the race rejects with `signal.reason`.
 * @param stagger Milliseconds between the starts of two attempts.
 * @returns The first connection made. When all fail, rejects with the failures, in address order.
 */
export function happyEyeballs<A, C>(
  addresses: readonly A[],
  attempt: (address: A, signal: AbortSignal) => Promise<C>,
  release: (connection: C) => void,
  signal: AbortSignal | undefined,
  stagger: number = CONNECTION_ATTEMPT_DELAY_MS,
): Promise<C> {
  return new Promise((resolve, reject) => {
    const inFlight = new Set<AbortController>();
    const failures: FailedAttempt<A>[] = [];
    let started = 0;
    let done = false;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const finish = (winner?: AbortController): void => {
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      for (const controller of inFlight) if (controller !== winner) controller.abort();
    };
    const onAbort = (): void => {
      if (done) return;
      finish();
      reject(signal?.reason);
    };
    const startNext = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      if (done || started >= addresses.length) return;
      const index = started++;
      const address = addresses[index];
      const controller = new AbortController();
      inFlight.add(controller);
      const attemptSignal = signal === undefined ? controller.signal : AbortSignal.any([signal, controller.signal]);
      attempt(address, attemptSignal).then(
        (connection) => {
          if (done) {
            release(connection);
            return;
          }
          finish(controller);
          resolve(connection);
        },
        (error: unknown) => {
          inFlight.delete(controller);
          if (done) return;
          failures.push({ address, error });
          if (failures.length === addresses.length) {
            finish();
            reject(new AttemptsFailed(failures));
          } else if (index === started - 1) {
            startNext();
          }
        },
      );
      if (started < addresses.length) timer = setTimeout(startNext, stagger);
    };

    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    startNext();
  });
}

/** Every attempt failed; `failures` are in the order the attempts failed. */
export class AttemptsFailed<A> extends Error {
  readonly failures: readonly FailedAttempt<A>[];
  constructor(failures: readonly FailedAttempt<A>[]) {
    super("every connection attempt failed");
    this.name = "AttemptsFailed";
    this.failures = failures;
  }

  /** The failure to report: the first that is not a refusal, else the first. */
  get primary(): SocketError | undefined {
    const errors = this.failures.map((failure) => failure.error).filter((e) => e instanceof SocketError);
    return errors.find((e) => e.code !== "connection-refused") ?? errors[0];
  }
}
