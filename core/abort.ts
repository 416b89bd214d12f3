/**
 * Signals and timeouts, the same way for every operation.
 *
 * @module
 */
import { socketError } from "./errors.ts";
import type { SocketErrorCode } from "./errors.ts";

/**
 * Checks a `timeout` option: undefined, or a finite number of milliseconds >= 0.
 *
 * @returns The timeout.
 */
export function checkTimeout(timeout: unknown, operation: string): number | undefined {
  if (timeout === undefined) return undefined;
  if (typeof timeout !== "number" || !Number.isFinite(timeout) || timeout < 0) {
    throw socketError("invalid-argument", operation, "", `timeout must be a finite number of ms >= 0, got ${String(timeout)}`);
  }
  return timeout;
}

/** Checks a `signal` option. */
export function checkSignal(signal: unknown, operation: string): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) {
    throw socketError("invalid-argument", operation, "", "signal must be an AbortSignal");
  }
  return signal;
}

/** One signal that aborts on the caller's signal or when the timeout fires. */
export interface Deadline {
  /** The combined signal, or undefined when there is neither a signal nor a timeout. */
  readonly signal: AbortSignal | undefined;
  /** Turns an abort into the error the caller should see; other errors pass. */
  translate(error: unknown): unknown;
  /** Clears the timer. */
  dispose(): void;
}

/**
 * Combines a caller's signal and a timeout. A caller's abort surfaces as `signal.reason`
 * (as `fetch` does); the timeout as a SocketError of `timeoutCode` (default `timeout`) naming the
 * operation and target.
 */
export function deadline(
  signal: AbortSignal | undefined,
  timeout: number | undefined,
  operation: string,
  target: string,
  timeoutCode: SocketErrorCode = "timeout",
): Deadline {
  if (timeout === undefined) {
    return { signal, translate: (error) => (signal?.aborted ? signal.reason : error), dispose() {} };
  }
  const controller = new AbortController();
  const timeoutError = socketError(timeoutCode, operation, target, `timed out after ${timeout} ms`);
  const timer = setTimeout(() => controller.abort(timeoutError), timeout);
  const onAbort = (): void => controller.abort(signal?.reason);
  if (signal !== undefined) {
    if (signal.aborted) controller.abort(signal.reason);
    else signal.addEventListener("abort", onAbort, { once: true });
  }
  return {
    signal: controller.signal,
    translate: (error) => (controller.signal.aborted ? controller.signal.reason : error),
    dispose() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    },
  };
}
