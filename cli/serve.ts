/**
 * The accept loop of the `unisock` tool's servers (`listen --echo`, `proxy`), and the
 * SIGINT/SIGTERM handling that stops them.
 *
 * @module
 */
import process from "node:process";
import type { Connection, Listener } from "../mod.ts";
import { errorLine } from "./command.ts";
import type { Io } from "./command.ts";

/** The signals that stop the tool, with their numbers (the exit code is 128 + number). */
const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;

/**
 * Calls `callback` on SIGINT or SIGTERM instead of ending the process.
 *
 * @param callback Gets the signal's number.
 * @returns Removes the handlers.
 *
 * @example Using `onInterrupt`
 * ```ts
 * import { onInterrupt } from "./serve.ts";
 * const stop = onInterrupt((signal) => console.log(`signal ${signal}`));
 * stop();
 * ```
 */
export function onInterrupt(callback: (signal: number) => void): () => void {
  const handlers = Object.entries(SIGNALS).map(([name, number]) => {
    const handler = (): void => callback(number);
    process.on(name, handler);
    return [name, handler] as const;
  });
  return () => {
    for (const [name, handler] of handlers) process.off(name, handler);
  };
}

/**
 * Accepts connections until SIGINT or SIGTERM, and runs `handle` for each, all at once.
 * A connection's error is printed (`unisock: CODE: MESSAGE`) and ends that connection
 * only. The signal closes the listener (a Unix socket file is removed) and every
 * connection, and aborts `signal`.
 *
 * @param listener Where connections come from; closed on return.
 * @param io For the error lines.
 * @param handle Serves one connection; it is closed when `handle` settles.
 * @returns 0 once stopped by a signal and every connection is closed.
 *
 * @example Using `serve`
 * ```ts ignore
 * import { serve } from "./serve.ts";
 * import { copyConnection } from "./pipe.ts";
 * import { tcp } from "../mod.ts";
 * const listener = await tcp.listen({ hostname: "127.0.0.1", port: 7007 });
 * await serve(listener, io, (conn) => copyConnection(conn, conn).then(() => {}));
 * ```
 */
export async function serve(
  listener: Listener,
  io: Io,
  handle: (conn: Connection, signal: AbortSignal) => Promise<void>,
): Promise<number> {
  const open = new Set<Connection>();
  const sessions = new Set<Promise<void>>();
  const stopping = new AbortController();
  const stop = onInterrupt(() => {
    stopping.abort();
    listener.close();
    for (const conn of open) conn.close();
  });
  try {
    for await (const conn of listener) {
      open.add(conn);
      const session = handle(conn, stopping.signal)
        .catch((error: unknown) => {
          if (!stopping.signal.aborted) io.log(errorLine(error));
        })
        .finally(() => {
          conn.close();
          open.delete(conn);
          sessions.delete(session);
        });
      sessions.add(session);
    }
  } finally {
    stop();
    listener.close();
    for (const conn of open) conn.close();
  }
  await Promise.all(sessions);
  return 0;
}
