/**
 * Copying bytes for the `unisock` tool: between two connections, from a Node-style
 * readable (stdin) to a connection, and from a connection to a Node-style writable
 * (stdout). Each copy holds at most a couple of 64 KiB chunks: a writer that is behind
 * stops the reading.
 *
 * @module
 */
import type { Connection } from "../mod.ts";

const CHUNK = 64 * 1024;

/**
 * Copies from `from` to `to` until `from` ends, then half-closes `to`. Two buffers take
 * turns, so the next read overlaps the last write.
 *
 * @param from Read until end of stream.
 * @param to Written, then half-closed.
 * @returns The number of bytes copied.
 *
 * @example An echo: a connection copied to itself
 * ```ts ignore
 * import { copyConnection } from "./pipe.ts";
 * import { tcp } from "../mod.ts";
 * const conn = await tcp.connect({ hostname: "127.0.0.1", port: 7 });
 * await copyConnection(conn, conn);
 * ```
 */
export async function copyConnection(from: Connection, to: Connection): Promise<number> {
  const buffers = [new Uint8Array(CHUNK), new Uint8Array(CHUNK)];
  let writing: Promise<number> | undefined;
  let copied = 0;
  for (let turn = 0;; turn ^= 1) {
    // The write of this buffer two turns ago was awaited before last turn's write began.
    const count = await from.read(buffers[turn]);
    if (count === null) break;
    if (writing !== undefined) await writing;
    writing = to.write(buffers[turn].subarray(0, count));
    copied += count;
  }
  if (writing !== undefined) await writing;
  await to.closeWrite();
  return copied;
}

/**
 * Pipes two connections into each other, half-closing each direction when its reading
 * side ends. Both are closed once both directions are done, or at the first error.
 *
 * @param a One end.
 * @param b The other end.
 * @returns Resolves when both directions are done; rejects with the first error.
 *
 * @example Using `pipeBoth`
 * ```ts ignore
 * import { pipeBoth } from "./pipe.ts";
 * import { tcp, unix } from "../mod.ts";
 * const client = await tcp.connect({ hostname: "127.0.0.1", port: 8080 });
 * await pipeBoth(client, await unix.connect("/run/app.sock"));
 * ```
 */
export async function pipeBoth(a: Connection, b: Connection): Promise<void> {
  try {
    await Promise.all([copyConnection(a, b), copyConnection(b, a)]);
  } finally {
    a.close();
    b.close();
  }
}

/**
 * What {@linkcode copyToStream} writes to: a Node `Writable` such as `process.stdout`.
 *
 * @example Using `ByteSink`
 * ```ts
 * import process from "node:process";
 * import type { ByteSink } from "./pipe.ts";
 * const sink: ByteSink = process.stdout;
 * console.log(typeof sink.write);
 * ```
 */
export interface ByteSink {
  /** Node's `Writable.write`: false when its buffer is full; `callback` once `chunk` is handed on. */
  write(chunk: Uint8Array, callback: (error?: Error | null) => void): boolean;
}

/**
 * Copies a connection to a Node writable until the connection ends, waiting for the
 * writable to drain whenever it says it is full.
 *
 * @param from Read until end of stream.
 * @param to Where the bytes go, e.g. `process.stdout`.
 * @returns The number of bytes copied, once the last one was handed on.
 *
 * @example Using `copyToStream`
 * ```ts ignore
 * import process from "node:process";
 * import { copyToStream } from "./pipe.ts";
 * import { unix } from "../mod.ts";
 * await copyToStream(await unix.connect("/run/app.sock"), process.stdout);
 * ```
 */
export async function copyToStream(from: Connection, to: ByteSink): Promise<number> {
  const buffer = new Uint8Array(CHUNK);
  let last: Promise<void> = Promise.resolve();
  let copied = 0;
  let count: number | null;
  while ((count = await from.read(buffer)) !== null) {
    let accepted = true;
    // A copy: the writable keeps the chunk until it is handed on.
    const chunk = buffer.slice(0, count);
    last = new Promise((resolve, reject) => {
      accepted = to.write(chunk, (error) => (error ? reject(error) : resolve()));
    });
    last.catch(() => {}); // awaited below, or at the end
    // The callback of the write that filled the buffer comes once the buffer is empty.
    if (!accepted) await last;
    copied += count;
  }
  await last;
  return copied;
}

/**
 * Copies a Node readable (stdin) to a connection, one chunk at a time (each write awaited,
 * so the readable is paused while the connection is behind), then half-closes it.
 *
 * @param from An async iterable of chunks, such as `process.stdin`.
 * @param to Written, then half-closed when `from` ends.
 * @returns The number of bytes copied.
 *
 * @example Using `copyFromStream`
 * ```ts ignore
 * import process from "node:process";
 * import { copyFromStream } from "./pipe.ts";
 * import { tcp } from "../mod.ts";
 * await copyFromStream(process.stdin, await tcp.connect({ hostname: "127.0.0.1", port: 8080 }));
 * ```
 */
export async function copyFromStream(from: AsyncIterable<Uint8Array | string>, to: Connection): Promise<number> {
  let copied = 0;
  for await (const chunk of from) {
    const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
    await to.write(bytes);
    copied += bytes.length;
  }
  await to.closeWrite();
  return copied;
}

/**
 * `nc`'s job on one connection: `stdin` to the connection (half-closed when `stdin`
 * ends) and the connection to `stdout`, until the connection's reading side ends. Then
 * the connection is closed, whether or not `stdin` has ended.
 *
 * @param conn The connection.
 * @param stdin Copied to `conn`, e.g. `process.stdin`.
 * @param stdout Gets what `conn` receives, e.g. `process.stdout`.
 * @returns Resolves once the connection's end was read and written out; rejects with
 *   the error of either direction.
 *
 * @example Using `pipeStdio`
 * ```ts ignore
 * import process from "node:process";
 * import { pipeStdio } from "./pipe.ts";
 * import { tcp } from "../mod.ts";
 * await pipeStdio(await tcp.connect({ hostname: "127.0.0.1", port: 8080 }), process.stdin, process.stdout);
 * ```
 */
export async function pipeStdio(conn: Connection, stdin: AsyncIterable<Uint8Array | string>, stdout: ByteSink): Promise<void> {
  let sendError: unknown;
  copyFromStream(stdin, conn).catch((error: unknown) => (sendError ??= error));
  try {
    await copyToStream(conn, stdout);
  } finally {
    conn.close();
  }
  // Only an error from before the end: later ones come from the close above.
  if (sendError !== undefined) throw sendError;
}
