/** Shared test helpers: the drivers to run against, an echo server, peers, hashing. */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { loadableDrivers } from "../network/ambient.ts";
import type { Connection } from "../core/connection.ts";
import type { Driver } from "../core/driver.ts";
import type { Listener } from "../core/listener.ts";
import { Network } from "../network/network.ts";
import { ALLOW_ALL } from "../network/policy.ts";
import type { IpSocketAddress } from "../core/address.ts";
import { SocketError } from "../core/errors.ts";

/** An allow-all network over every driver this runtime can load (its own, and Node's), with the driver. */
export function networks(): { name: string; net: Network; driver: Driver }[] {
  return loadableDrivers().map((driver) => ({ name: driver.name, net: new Network(driver, ALLOW_ALL), driver }));
}

/** The port of a listener on an IP address. */
export function portOf(listener: Listener<IpSocketAddress>): number {
  return listener.localAddress.port;
}

/** Copies everything from `conn` back to it, then half-closes; closes when the peer is done. */
export async function echo(conn: Connection): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    let count: number | null;
    while ((count = await conn.read(buffer)) !== null) await conn.write(buffer.subarray(0, count));
    await conn.closeWrite();
  } finally {
    conn.close();
  }
}

/** A listener on 127.0.0.1 that echoes every connection. */
export async function startEchoServer(net: Network): Promise<{ port: number; close(): void; served: Promise<void> }> {
  const listener = await net.tcp.listen({ hostname: "127.0.0.1", port: 0 });
  const sessions: Promise<void>[] = [];
  const served = (async () => {
    for await (const conn of listener) sessions.push(echo(conn).catch(() => {}));
    await Promise.all(sessions);
  })();
  return { port: portOf(listener), close: () => listener.close(), served };
}

/** Deterministic pseudo-random bytes (xorshift32), fast enough for tens of MiB. */
export function patternBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  const words = new Uint32Array(bytes.buffer, 0, Math.floor(length / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return bytes;
}

/** Writes `total` bytes of a pattern in `chunk`-sized writes; returns the sha256 of what was sent. */
export async function sendPattern(conn: Connection, total: number, chunk: number, seed: number): Promise<string> {
  const hash = createHash("sha256");
  for (let sent = 0, n = 0; sent < total; n++) {
    const bytes = patternBytes(Math.min(chunk, total - sent), seed + n);
    hash.update(bytes);
    await conn.write(bytes);
    sent += bytes.length;
  }
  return hash.digest("hex");
}

/** Reads to end of stream; returns the byte count and sha256. */
export async function drain(conn: Connection): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  const buffer = new Uint8Array(64 * 1024);
  let bytes = 0;
  let count: number | null;
  while ((count = await conn.read(buffer)) !== null) {
    hash.update(buffer.subarray(0, count));
    bytes += count;
  }
  return { bytes, sha256: hash.digest("hex") };
}

/** Asserts that `work` rejects with a SocketError of `code`; returns it. */
export async function rejectsWith(work: Promise<unknown> | (() => unknown), code: string): Promise<SocketError> {
  try {
    await (typeof work === "function" ? work() : work);
  } catch (error) {
    if (error instanceof SocketError && error.code === code) return error;
    throw new Error(`expected SocketError ${code}, got ${error instanceof SocketError ? error.code : String(error)}`, { cause: error });
  }
  throw new Error(`expected SocketError ${code}, but it succeeded`);
}

/** A misbehaving Python peer (tests/peers/tcp_peer.py); stops when `stop()` closes its stdin. */
export async function startPeer(
  mode: "blackhole" | "reset" | "stream" | "sink",
): Promise<{ port: number; stop(): void; kill(): Promise<void> }> {
  const script = fileURLToPath(new URL("./peers/tcp_peer.py", import.meta.url));
  const child = spawn("python3", [script, mode], { stdio: ["pipe", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let text = "";
    child.stdout.on("data", (chunk: Uint8Array) => {
      text += new TextDecoder().decode(chunk);
      if (text.includes("\n")) resolve(Number(text.trim()));
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`peer exited with ${code}`)));
  });
  return {
    port,
    stop() {
      child.stdin.end();
      child.kill();
    },
    /** SIGKILL: the process dies mid-whatever, and the kernel closes its sockets. */
    kill() {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      });
    },
  };
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(net: Network): Promise<number> {
  const listener = await net.tcp.listen({ hostname: "127.0.0.1", port: 0 });
  const port = portOf(listener);
  listener.close();
  await new Promise((resolve) => setTimeout(resolve, 20));
  return port;
}

/** What a finished child process left: its exit code (null when killed), stdout and stderr. */
export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `command` to its end, killed after `limitMs`. `NODE_TEST_CONTEXT` is left out of the
 * environment, so a nested `node --test` reports on its own instead of to this runner.
 */
export function runProcess(command: string, args: string[], env: Record<string, string>, limitMs: number): Promise<ProcessResult> {
  const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...inherited, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Uint8Array) => (stdout += chunk));
    child.stderr.on("data", (chunk: Uint8Array) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Bound of one step of a test (an accept, a handshake, a line). */
export const STEP_MS = 10_000;

/** `work`, or a rejection naming `what` when it takes longer than `ms`. */
export async function within<T>(work: Promise<T>, what: string, ms = STEP_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads until the text received contains `until` (or end of stream), bounded by `ms`; returns the text. */
export async function readUntil(conn: Connection, until: string, ms = STEP_MS): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(4096);
  const signal = AbortSignal.timeout(ms);
  let text = "";
  while (!text.includes(until)) {
    const count = await conn.read(buffer, { signal });
    if (count === null) break;
    text += decoder.decode(buffer.subarray(0, count), { stream: true });
  }
  return text;
}

/**
 * Closes what a test opened, last first, whatever happened (`await using cleanup = new
 * Cleanup()`). Something added after the clean-up ran is closed at once.
 */
export class Cleanup {
  readonly #tasks: (() => unknown)[] = [];
  #disposed = false;
  /** Registers `close` for `value` and returns `value`. */
  add<T>(value: T, close: (value: T) => unknown): T {
    if (this.#disposed) void Promise.resolve().then(() => close(value)).catch(() => {});
    else this.#tasks.push(() => close(value));
    return value;
  }
  connection<T extends Connection>(conn: T): T {
    return this.add(conn, (c) => c.close());
  }
  listener<T extends Listener<IpSocketAddress>>(listener: T): T {
    return this.add(listener, (l) => l.close());
  }
  /** An AbortSignal aborted by the clean-up (for a handshake that may never end). */
  signal(): AbortSignal {
    return this.add(new AbortController(), (c) => c.abort(new Error("the test is over"))).signal;
  }
  async [Symbol.asyncDispose](): Promise<void> {
    this.#disposed = true;
    for (const task of this.#tasks.reverse()) {
      try {
        await task();
      } catch {
        // closing is best effort; the test's own failure is what counts
      }
    }
  }
}
