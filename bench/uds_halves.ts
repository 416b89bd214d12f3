/**
 * Which half of a Unix-socket transfer carries unisock's cost: every round pairs a
 * receiver (unisock `read(buffer)` into a reused 64 KiB buffer, or native) with a sender
 * (unisock `await write` of 64 KiB chunks, or native), four pairs in turn, 1 GiB each,
 * one process (both ends share the one JavaScript thread, as in uds_vs_tcp.ts).
 * A diagnostic for the README's "where the remaining time goes", on Node and Bun, whose
 * native receivers only count the bytes handed over (Deno's native `read` fills a buffer
 * as unisock's does).
 *
 *   node bench/uds_halves.ts [--mib N] [--rounds N]
 *   bun bench/uds_halves.ts [--mib N] [--rounds N]
 *
 * Native: `node:net` (receiver counts 'data', sender writes until `write()` is false and
 * waits for 'drain'), or `Bun.listen`/`Bun.connect` (receiver counts `data`, sender
 * writes what Bun takes and the rest on `drain`). Prints the median MB/s of each pair and
 * its ratio to native→native.
 *
 * @module
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { unix } from "../mod.ts";
import type { Connection, Listener, UnixSocketAddress } from "../mod.ts";
import type { BunSocket } from "../bun/bun_api.ts";
import { globals, makeUsage, median, positive, runCleanups, runMain, runtime, runtimeVersion, walkArgs } from "./common.ts";

const BENCH = "uds_halves";
const CHUNK = 64 * 1024;
const BYTES = new Uint8Array(CHUNK).map((_, i) => i & 0xff);

type Kind = "native" | "unisock";
type Defer = (cleanup: () => void) => void;

/** A receiver listening at a path: `opened` resolves once a peer connected; `received` with the byte count at end of stream. */
interface Receiver {
  opened: Promise<void>;
  received: Promise<number>;
}

async function unisockReceiver(file: string, defer: Defer): Promise<Receiver> {
  const listener: Listener<UnixSocketAddress> = await unix.listen(file);
  defer(() => listener.close());
  let connection!: Promise<Connection>;
  const opened = (connection = listener.accept()).then((conn) => void defer(() => conn.close()));
  const received = connection.then(async (conn) => {
    const buffer = new Uint8Array(CHUNK);
    let total = 0;
    let count: number | null;
    while ((count = await conn.read(buffer)) !== null) total += count;
    return total;
  });
  return { opened, received };
}

function nativeReceiver(file: string, defer: Defer): Promise<Receiver> {
  let onOpen!: () => void;
  let onEnd!: (total: number) => void;
  const opened = new Promise<void>((resolve) => (onOpen = resolve));
  const received = new Promise<number>((resolve) => (onEnd = resolve));
  let total = 0;
  const bun = globals.Bun;
  if (bun !== undefined) {
    const listener = bun.listen<undefined>({
      unix: file,
      socket: {
        open: (socket) => {
          defer(() => socket.terminate());
          onOpen();
        },
        data: (_socket, data) => void (total += data.length),
        end: () => onEnd(total),
        close: () => onEnd(total),
      },
    });
    defer(() => listener.stop(true));
    return Promise.resolve({ opened, received });
  }
  const server = net.createServer((socket) => {
    defer(() => socket.destroy());
    socket.on("data", (chunk: Uint8Array) => void (total += chunk.length));
    socket.on("end", () => onEnd(total));
    onOpen();
  });
  defer(() => server.close());
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ path: file }, () => resolve({ opened, received }));
  });
}

/** Connects to `file`; the returned function sends `total` bytes and half-closes. */
async function unisockSender(file: string, defer: Defer): Promise<(total: number) => Promise<void>> {
  const conn = await unix.connect(file);
  defer(() => conn.close());
  return async (total) => {
    for (let sent = 0; sent < total; sent += CHUNK) await conn.write(BYTES);
    await conn.closeWrite();
  };
}

async function nativeSender(file: string, defer: Defer): Promise<(total: number) => Promise<void>> {
  const bun = globals.Bun;
  if (bun !== undefined) {
    let pump = (): void => {};
    const socket: BunSocket<undefined> = await bun.connect<undefined>({ unix: file, socket: { drain: () => pump() } });
    defer(() => socket.terminate());
    return (total) =>
      new Promise<void>((resolve) => {
        let remaining = total;
        let rest: Uint8Array | undefined;
        pump = () => {
          for (;;) {
            if (rest === undefined) {
              if (remaining <= 0) {
                resolve();
                socket.end();
                return;
              }
              remaining -= CHUNK;
              rest = BYTES;
            }
            const written = socket.write(rest);
            if (written < rest.length) {
              if (written > 0) rest = rest.subarray(written);
              return;
            }
            rest = undefined;
          }
        };
        pump();
      });
  }
  const client = net.connect({ path: file });
  defer(() => client.destroy());
  await new Promise<void>((resolve, reject) => {
    client.once("connect", resolve);
    client.once("error", reject);
  });
  return (total) =>
    new Promise<void>((resolve) => {
      let remaining = total;
      const pump = (): void => {
        while (remaining > 0) {
          remaining -= CHUNK;
          if (!client.write(BYTES)) {
            client.once("drain", pump);
            return;
          }
        }
        client.end(() => resolve());
      };
      pump();
    });
}

/** One transfer of `total` bytes from `sender` to `receiver`; MB/s. */
async function round(receiverKind: Kind, senderKind: Kind, file: string, total: number): Promise<number> {
  const cleanups: (() => void)[] = [];
  const defer: Defer = (cleanup) => cleanups.push(cleanup);
  try {
    const receiver = await (receiverKind === "unisock" ? unisockReceiver : nativeReceiver)(file, defer);
    const send = await (senderKind === "unisock" ? unisockSender : nativeSender)(file, defer);
    await receiver.opened;
    const start = performance.now();
    const [received] = await Promise.all([receiver.received, send(total)]);
    const seconds = (performance.now() - start) / 1000;
    if (received !== total) throw new Error(`${receiverKind} receiver got ${received} of ${total} bytes`);
    return total / 1e6 / seconds;
  } finally {
    runCleanups(cleanups);
    fs.rmSync(file, { force: true });
  }
}

async function main(): Promise<void> {
  const usage = makeUsage(BENCH, "[--mib N] [--rounds N]");
  const options = { mib: 1024, rounds: 5 };
  walkArgs(process.argv.slice(2), usage, (flag, value) => {
    if (flag === "--mib") options.mib = positive(usage, "--mib", value(), false);
    else if (flag === "--rounds") options.rounds = positive(usage, "--rounds", value(), true);
    else return false;
    return true;
  });
  if (runtime === "deno") usage("runs on Node and Bun (Deno's native read fills a buffer as unisock's does)");
  const total = Math.round(options.mib * 1024 * 1024);
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "unisock-uds-halves-"));
  const pairs: [receiver: Kind, sender: Kind][] = [["native", "native"], ["unisock", "native"], ["native", "unisock"], ["unisock", "unisock"]];
  const results = new Map<string, number[]>(pairs.map(([r, s]) => [`${r}←${s}`, []]));
  let n = 0;
  try {
    for (const [r, s] of pairs) await round(r, s, path.join(directory, `${n++}.sock`), Math.min(total, 64 * 1024 * 1024)); // warm-up
    for (let k = 0; k < options.rounds; k++) {
      // The pairs take turns, the first one rotating, so none always runs first.
      for (let i = 0; i < pairs.length; i++) {
        const [r, s] = pairs[(i + k) % pairs.length];
        results.get(`${r}←${s}`)!.push(await round(r, s, path.join(directory, `${n++}.sock`), total));
      }
    }
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
  const base = median(results.get("native←native")!);
  console.log(`${BENCH} on ${runtime} ${runtimeVersion}: ${options.mib} MiB per round, ${options.rounds} rounds; median MB/s (receiver←sender), ratio to native←native`);
  for (const [pair, mbps] of results) {
    console.log(`${pair.padEnd(18)} ${median(mbps).toFixed(0).padStart(6)} MB/s  ${(median(mbps) / base).toFixed(2)}  (${mbps.map((v) => v.toFixed(0)).join(" ")})`);
  }
}

runMain(BENCH, main);
