/**
 * Stream throughput rounds shared by `tcp_throughput.ts` and `uds_vs_tcp.ts`: one round
 * opens a fresh listener and connection (TCP on 127.0.0.1, or a Unix socket at a given
 * path) and sends the whole amount from the client to the accepted server side in 64 KiB
 * chunks; the clock runs from when both ends are connected until the client finished
 * sending (FIN included) and the server has read every byte up to end of stream.
 *
 * Both sides' receivers do the same work, chosen by `--reader`:
 *
 * - `read` (default): the bytes end up in the receiver's own reused 64 KiB buffer.
 *   unisock `read(buffer)`s into it until null; native Node and Bun copy each `'data'`
 *   chunk into it (in 64 KiB pieces when longer), as unisock's `read(buffer)` must; Deno
 *   `conn.read`s into it.
 * - `readable`: the receiver gets chunks it owns. unisock iterates `conn.readable`;
 *   native Node and Bun take their `'data'` chunks; Deno iterates `conn.readable`.
 *
 * Senders: unisock `await conn.write(chunk)` then `closeWrite()`; native Node `node:net`
 * (`{ host, port }` or `{ path }`) writes until `write()` returns false and waits for
 * 'drain'; native Deno `Deno.listen`/`Deno.connect` (`transport: "tcp"` or `"unix"`), a
 * `conn.write` loop that handles partial writes; native Bun `Bun.listen`/`Bun.connect`
 * (`{ hostname, port }` or `{ unix }`, `binaryType: "uint8array"` as unisock asks for),
 * `socket.write` returns the bytes taken, the rest goes on 'drain'.
 *
 * Not a bench itself.
 *
 * @module
 */
import net from "node:net";
import process from "node:process";
import { tcp, unix } from "../mod.ts";
import type { BunSocket, BunSocketHandler } from "../bun/bun_api.ts";
import { alternatives, clock, globals, makeUsage, positive, runCleanups, runtime, since, walkArgs } from "./common.ts";
import type { Sample, Usage } from "./common.ts";

export const HOST = "127.0.0.1";
export const CHUNK = 64 * 1024;
export const MIB = 1024 * 1024;

/** Where a round connects: TCP on 127.0.0.1 at a free port, or a Unix socket file. */
export type StreamTarget = { transport: "tcp" } | { transport: "unix"; path: string };

/** Registers what must be closed after the round (or on timeout). */
export type Defer = (cleanup: () => void) => void;
/** One round: moves `total` bytes, returns its wall-clock and CPU time. */
export type RoundFn = (total: number, defer: Defer) => Promise<Sample>;

/** The bytes sent, never modified, so every write may reuse it. */
const CHUNK_BYTES = new Uint8Array(CHUNK).map((_, i) => i & 0xff);

function checkReceived(side: string, received: number, total: number): void {
  if (received !== total) throw new Error(`${side}: received ${received} bytes, sent ${total}`);
}

/**
 * Copies `chunk` into `buffer` (from its start, in 64 KiB pieces when it is longer): what
 * a native Node or Bun receiver does to end with the bytes in its own buffer, as
 * unisock's `read(buffer)` must.
 */
export function copyInto(buffer: Uint8Array, chunk: Uint8Array): void {
  if (chunk.length <= buffer.length) {
    buffer.set(chunk);
    return;
  }
  for (let offset = 0; offset < chunk.length; offset += buffer.length) {
    buffer.set(chunk.subarray(offset, Math.min(offset + buffer.length, chunk.length)));
  }
}

/** What the unisock round uses of a `Connection`. */
interface UnisockEnd {
  read(buffer: Uint8Array): Promise<number | null>;
  readonly readable: ReadableStream<Uint8Array>;
  write(bytes: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
}

async function unisockPair(target: StreamTarget, defer: Defer): Promise<[server: UnisockEnd, client: UnisockEnd]> {
  if (target.transport === "tcp") {
    const listener = await tcp.listen({ hostname: HOST, port: 0 });
    defer(() => listener.close());
    const accepted = listener.accept();
    const client = await tcp.connect({ hostname: HOST, port: listener.localAddress.port });
    defer(() => client.close());
    const server = await accepted;
    defer(() => server.close());
    return [server, client];
  }
  const listener = await unix.listen(target.path);
  defer(() => listener.close());
  const accepted = listener.accept();
  const client = await unix.connect(target.path);
  defer(() => client.close());
  const server = await accepted;
  defer(() => server.close());
  return [server, client];
}

/** A unisock connection, as far as a transfer needs it. */
interface Stream {
  read(buffer: Uint8Array): Promise<number | null>;
  readonly readable: ReadableStream<Uint8Array>;
  write(bytes: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
}

/**
 * Sends `total` bytes from `client` in 64 KiB writes, then half-closes, while `server`
 * (or the connection it resolves to) reads to end of stream; returns the bytes received.
 */
export async function transfer(server: Stream | Promise<Stream>, client: Stream, total: number): Promise<number> {
  const receiving = Promise.resolve(server).then(async (reader) => {
    let received = 0;
    if (receiveWith.reader === "readable") {
      for await (const chunk of reader.readable) received += chunk.length;
      return received;
    }
    const buffer = new Uint8Array(CHUNK);
    let count: number | null;
    while ((count = await reader.read(buffer)) !== null) received += count;
    return received;
  });
  const sending = (async () => {
    let remaining = total;
    for (; remaining >= CHUNK; remaining -= CHUNK) await client.write(CHUNK_BYTES);
    if (remaining > 0) await client.write(CHUNK_BYTES.subarray(0, remaining));
    await client.closeWrite();
  })();
  const [received] = await Promise.all([receiving, sending]);
  return received;
}

/** unisock (`tcp` or `unix`), a fresh target from `next` every round. */
export function unisockRound(next: () => StreamTarget): RoundFn {
  return async (total, defer) => {
    const [server, client] = await unisockPair(next(), defer);
    const start = clock();
    const received = await transfer(server, client, total);
    const elapsed = since(start);
    checkReceived("unisock", received, total);
    return elapsed;
  };
}

function nodeRound(next: () => StreamTarget): RoundFn {
  return async (total, defer) => {
    const target = next();
    let serverSocket!: net.Socket;
    let onAccept!: () => void;
    const acceptedPromise = new Promise<void>((resolve) => (onAccept = resolve));
    const server = net.createServer((socket) => {
      serverSocket = socket;
      defer(() => socket.destroy());
      onAccept();
    });
    defer(() => server.close());
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(target.transport === "tcp" ? { host: HOST, port: 0 } : { path: target.path }, () => resolve());
    });
    const client = target.transport === "tcp"
      ? net.connect({ host: HOST, port: (server.address() as net.AddressInfo).port })
      : net.connect({ path: target.path });
    defer(() => client.destroy());
    await new Promise<void>((resolve, reject) => {
      client.once("connect", resolve);
      client.once("error", reject);
    });
    await acceptedPromise;

    const start = clock();
    const receiving = new Promise<number>((resolve, reject) => {
      let received = 0;
      if (receiveWith.reader === "read") {
        const buffer = new Uint8Array(CHUNK);
        serverSocket.on("data", (chunk: Buffer) => {
          copyInto(buffer, chunk);
          received += chunk.length;
        });
      } else serverSocket.on("data", (chunk: Buffer) => (received += chunk.length));
      serverSocket.on("end", () => resolve(received));
      serverSocket.on("error", reject);
    });
    const sending = new Promise<void>((resolve, reject) => {
      client.on("error", reject);
      let remaining = total;
      const pump = (): void => {
        while (remaining > 0) {
          const size = Math.min(remaining, CHUNK);
          remaining -= size;
          const more = client.write(size === CHUNK ? CHUNK_BYTES : CHUNK_BYTES.subarray(0, size));
          if (!more) {
            client.once("drain", pump);
            return;
          }
        }
        client.end(() => resolve());
      };
      pump();
    });
    const [received] = await Promise.all([receiving, sending]);
    const elapsed = since(start);
    checkReceived("node:net", received, total);
    return elapsed;
  };
}

/** What the Deno round uses of a `Deno.TcpConn` or `Deno.UnixConn`. */
interface DenoStream {
  read(buffer: Uint8Array): Promise<number | null>;
  /** Deno's conns have it; the driver's small Deno types leave it out. */
  readonly readable?: ReadableStream<Uint8Array>;
  write(bytes: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
}

function denoRound(next: () => StreamTarget): RoundFn {
  return async (total, defer) => {
    const deno = globals.Deno!;
    const target = next();
    let accepted: Promise<DenoStream>;
    let connecting: () => Promise<DenoStream>;
    if (target.transport === "tcp") {
      const listener = deno.listen({ hostname: HOST, port: 0, transport: "tcp" });
      defer(() => listener.close());
      accepted = listener.accept();
      connecting = () => deno.connect({ hostname: HOST, port: listener.addr.port, transport: "tcp" });
    } else {
      const listener = deno.listen({ transport: "unix", path: target.path });
      defer(() => listener.close());
      accepted = listener.accept();
      connecting = () => deno.connect({ transport: "unix", path: target.path });
    }
    const client = await connecting();
    defer(() => closeQuietly(client));
    const server = await accepted;
    defer(() => closeQuietly(server));

    const start = clock();
    const receiving = (async () => {
      let received = 0;
      if (receiveWith.reader === "readable") {
        const readable = server.readable;
        if (readable === undefined) throw new Error("Deno.connect: this conn has no readable");
        for await (const chunk of readable) received += chunk.length;
        return received;
      }
      const buffer = new Uint8Array(CHUNK);
      let count: number | null;
      while ((count = await server.read(buffer)) !== null) received += count;
      return received;
    })();
    const sending = (async () => {
      let remaining = total;
      while (remaining > 0) {
        const size = Math.min(remaining, CHUNK);
        const bytes = size === CHUNK ? CHUNK_BYTES : CHUNK_BYTES.subarray(0, size);
        let offset = await client.write(bytes);
        while (offset < size) offset += await client.write(bytes.subarray(offset));
        remaining -= size;
      }
      await client.closeWrite();
    })();
    const [received] = await Promise.all([receiving, sending]);
    const elapsed = since(start);
    checkReceived("Deno.connect", received, total);
    return elapsed;
  };
}

function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

interface BunClientState {
  pump(): void;
}

function bunRound(next: () => StreamTarget): RoundFn {
  return async (total, defer) => {
    const bun = globals.Bun!;
    const target = next();
    let received = 0;
    const buffer = new Uint8Array(CHUNK);
    const copying = receiveWith.reader === "read";
    let onAccept!: () => void;
    const acceptedPromise = new Promise<void>((resolve) => (onAccept = resolve));
    let onEnd!: (received: number) => void;
    let onServerError!: (error: Error) => void;
    const receiving = new Promise<number>((resolve, reject) => {
      onEnd = resolve;
      onServerError = reject;
    });
    const serverHandler: BunSocketHandler<undefined> = {
      binaryType: "uint8array",
      open: (socket) => {
        defer(() => socket.terminate());
        onAccept();
      },
      data: copying
        ? (_socket, data) => {
          copyInto(buffer, data);
          received += data.length;
        }
        : (_socket, data) => void (received += data.length),
      end: () => onEnd(received),
      close: () => onEnd(received),
      error: (_socket, error) => onServerError(error),
    };
    let onClientError!: (error: Error) => void;
    const clientHandler: BunSocketHandler<BunClientState> = {
      binaryType: "uint8array",
      drain: (socket) => socket.data?.pump(),
      error: (_socket, error) => onClientError(error),
      close: (_socket, error) => onClientError(error ?? new Error("Bun.connect: the socket closed early")),
    };
    let client: BunSocket<BunClientState>;
    if (target.transport === "tcp") {
      const listener = bun.listen<undefined>({ hostname: HOST, port: 0, socket: serverHandler });
      defer(() => listener.stop(true));
      client = await bun.connect<BunClientState>({ hostname: HOST, port: listener.port, socket: clientHandler });
    } else {
      const listener = bun.listen<undefined>({ unix: target.path, socket: serverHandler });
      defer(() => listener.stop(true));
      client = await bun.connect<BunClientState>({ unix: target.path, socket: clientHandler });
    }
    defer(() => client.terminate());
    await acceptedPromise;

    const start = clock();
    const sending = new Promise<void>((resolve, reject) => {
      onClientError = reject;
      let remaining = total;
      let rest: Uint8Array | undefined;
      client.data = {
        pump() {
          for (;;) {
            if (rest === undefined) {
              if (remaining === 0) {
                resolve(); // before end(): Bun runs the 'close' handler within end()
                client.end();
                return;
              }
              const size = Math.min(remaining, CHUNK);
              remaining -= size;
              rest = size === CHUNK ? CHUNK_BYTES : CHUNK_BYTES.subarray(0, size);
            }
            const written = client.write(rest);
            if (written < rest.length) {
              // Bun keeps nothing it did not take: the rest goes on the next 'drain'.
              if (written > 0) rest = rest.subarray(written);
              return;
            }
            rest = undefined;
          }
        },
      };
      client.data.pump();
    });
    const [count] = await Promise.all([receiving, sending]);
    const elapsed = since(start);
    checkReceived("Bun.connect", count, total);
    return elapsed;
  };
}

/** The runtime's own socket API, a fresh target from `next` every round. */
export function nativeRound(next: () => StreamTarget): RoundFn {
  return runtime === "deno" ? denoRound(next) : runtime === "bun" ? bunRound(next) : nodeRound(next);
}

/** What `nativeRound` uses, for the report: the API and how its receiver gets the bytes. */
export function nativeApi(transport: StreamTarget["transport"]): string {
  const api = runtime === "deno" ? "Deno.connect/Deno.listen" : runtime === "bun" ? "Bun.connect/Bun.listen" : "node:net";
  const how = runtime === "deno"
    ? receiveWith.reader === "read" ? "conn.read into a reused buffer" : "conn.readable"
    : receiveWith.reader === "read" ? "'data' chunks copied into a reused buffer" : "'data' chunks";
  return `${transport === "tcp" ? api : `${api} (${runtime === "node" ? "path" : "unix"})`}, ${how}`;
}

/** One round's figures: MB/s, and CPU seconds spent per GB moved. */
export interface Figures {
  mbps: number;
  cpuPerGB: number;
}

/** Runs one round under a deadline, then closes everything it opened. */
export async function measure(label: string, round: RoundFn, total: number, timeoutMs: number): Promise<Figures> {
  const cleanups: (() => void)[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${label} round did not finish within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
  });
  try {
    const sample = await Promise.race([round(total, (cleanup) => cleanups.push(cleanup)), timeout]);
    return { mbps: total / 1e6 / (sample.wallMs / 1000), cpuPerGB: sample.cpuMs / 1000 / (total / 1e9) };
  } finally {
    clearTimeout(timer);
    runCleanups(cleanups);
  }
}

/** How the unisock server side receives: `read(buffer)` into one reused buffer, or `readable`. */
export type Reader = "read" | "readable";
const READERS: readonly Reader[] = ["read", "readable"];

/** The unisock receiving side of every transfer in this process (set by parseStreamOptions). */
const receiveWith: { reader: Reader } = { reader: "read" };

/** The options every stream bench takes. */
export interface StreamOptions<S extends string> {
  reader: Reader;
  mib: number;
  rounds: number;
  timeoutMs: number;
  json: boolean;
  only: S | undefined;
}

/**
 * Parses `--mib N`, `--rounds N`, `--timeout S`, `--json`, `--reader read|readable` and
 * `--only SIDE` (each but `--only` also from BENCH_MIB, BENCH_ROUNDS, BENCH_TIMEOUT_S,
 * BENCH_JSON, BENCH_READER). `--reader readable`: the unisock server side receives
 * through `conn.readable` (the runtime's own chunks on Node and Bun, no copy) instead of
 * `read(buffer)` into a reused 64 KiB buffer (a copy of every byte on Node and Bun).
 */
export function parseStreamOptions<S extends string>(bench: string, args: string[], sides: readonly S[]): StreamOptions<S> {
  const usage: Usage = makeUsage(bench, `[--mib N] [--rounds N] [--timeout SECONDS] [--json] [--reader read|readable] [--only ${sides.join("|")}]`);
  const env = process.env;
  const isReader = (text: string | undefined): text is Reader => READERS.some((reader) => reader === text);
  const reader = env.BENCH_READER ?? "read";
  if (!isReader(reader)) usage(`BENCH_READER takes read or readable, got ${JSON.stringify(reader)}`);
  const options: StreamOptions<S> = {
    reader,
    mib: positive(usage, "BENCH_MIB", env.BENCH_MIB ?? "1024", false),
    rounds: positive(usage, "BENCH_ROUNDS", env.BENCH_ROUNDS ?? "3", true),
    timeoutMs: positive(usage, "BENCH_TIMEOUT_S", env.BENCH_TIMEOUT_S ?? "60", false) * 1000,
    json: env.BENCH_JSON === "1" || env.BENCH_JSON === "true",
    only: undefined,
  };
  const isSide = (text: string | undefined): text is S => sides.some((side) => side === text);
  walkArgs(args, usage, (flag, value) => {
    if (flag === "--mib") options.mib = positive(usage, "--mib", value(), false);
    else if (flag === "--rounds") options.rounds = positive(usage, "--rounds", value(), true);
    else if (flag === "--timeout") options.timeoutMs = positive(usage, "--timeout", value(), false) * 1000;
    else if (flag === "--json") options.json = true;
    else if (flag === "--reader") {
      const text = value();
      if (!isReader(text)) usage(`--reader takes read or readable, got ${JSON.stringify(text)}`);
      options.reader = text;
    } else if (flag === "--only") {
      const text = value();
      if (!isSide(text)) usage(`--only takes ${alternatives(sides)}, got ${JSON.stringify(text)}`);
      options.only = text;
    } else return false;
    return true;
  });
  receiveWith.reader = options.reader;
  return options;
}
