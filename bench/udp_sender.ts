/**
 * The sending half of bench/udp.ts: binds a sender on 127.0.0.1 and sends `count`
 * datagrams of `size` bytes to a port as fast as the API lets it (nothing paced). It runs
 * in a worker thread of the bench's process (a `node:worker_threads` Worker, loaded with
 * `workerData.udpSender`), or inline on the main thread with `--inline`. Not a bench itself.
 *
 * - loop: unisock `await socket.send(data, to)`, one datagram per call.
 * - many: unisock `await socket.sendMany(batch)`, `batch` datagrams per call (the same
 *   array of `{ data, to }` every call).
 * - native, one datagram per call, awaiting what the API gives to wait on:
 *   - Node, and Deno without `--unstable-net`: `node:dgram` `socket.send(data, port,
 *     address, callback)`, awaiting the callback (what unisock's driver waits for);
 *   - Deno with `--unstable-net`: `await conn.send(data, addr)` on `Deno.listenDatagram`;
 *   - Bun: `Bun.udpSocket().send(data, port, address)`, synchronous; on false (the
 *     socket's buffer is full) it waits for 'drain'.
 * - native-many (Bun only): `socket.sendMany([data, port, address, ...])`, `batch`
 *   datagrams per call, the rest after 'drain' when it took fewer.
 *
 * @module
 */
import dgram from "node:dgram";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { udp } from "../mod.ts";
import type { UdpTarget } from "../mod.ts";
import { globals, runtime } from "./common.ts";

export const HOST = "127.0.0.1";

/** Who sends (and, on the bench's side, who receives). */
export type UdpSide = "loop" | "many" | "native" | "native-many";

/** One round's sending. */
export interface SendJob {
  side: UdpSide;
  /** The receiver's port on 127.0.0.1. */
  port: number;
  count: number;
  size: number;
  batch: number;
}

/** What the sender did: how many datagrams it handed over, in how long. */
export interface SendResult {
  sent: number;
  sendMs: number;
}

/** Messages from the bench to the worker. */
export type SenderRequest = { type: "prepare"; job: SendJob } | { type: "go" };
/** Messages from the worker to the bench. */
export type SenderReply = { type: "ready" } | { type: "done"; result: SendResult } | { type: "error"; message: string };

/** A bound sender, ready to go: `send()` sends everything, then closes the socket. */
export interface PreparedSender {
  send(): Promise<SendResult>;
}

/** The payload; the same bytes every time. */
function payload(size: number): Uint8Array {
  return new Uint8Array(size).map((_, i) => i & 0xff);
}

function timed(count: number, run: () => Promise<void>, close: () => void): PreparedSender {
  return {
    async send() {
      const start = performance.now();
      try {
        await run();
      } finally {
        close();
      }
      return { sent: count, sendMs: performance.now() - start };
    },
  };
}

async function unisockSender(job: SendJob): Promise<PreparedSender> {
  const socket = await udp.bind({ hostname: HOST, port: 0 });
  const data = payload(job.size);
  const to: UdpTarget = { address: HOST, port: job.port };
  if (job.side === "loop") {
    return timed(job.count, async () => {
      for (let i = 0; i < job.count; i++) await socket.send(data, to);
    }, () => socket.close());
  }
  const full = Array.from({ length: job.batch }, () => ({ data, to }));
  return timed(job.count, async () => {
    for (let sent = 0; sent < job.count;) {
      const n = Math.min(job.batch, job.count - sent);
      const went = await socket.sendMany(n === job.batch ? full : full.slice(0, n));
      if (went !== n) throw new Error(`unisock sendMany sent ${went} of ${n}`);
      sent += n;
    }
  }, () => socket.close());
}

async function dgramSender(job: SendJob): Promise<PreparedSender> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, HOST, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  const data = payload(job.size);
  return timed(job.count, async () => {
    for (let i = 0; i < job.count; i++) {
      await new Promise<void>((resolve, reject) => {
        socket.send(data, job.port, HOST, (error) => (error ? reject(error) : resolve()));
      });
    }
  }, () => socket.close());
}

function denoSender(job: SendJob): PreparedSender {
  const conn = globals.Deno!.listenDatagram!({ hostname: HOST, port: 0, transport: "udp" });
  const data = payload(job.size);
  const to = { transport: "udp" as const, hostname: HOST, port: job.port };
  return timed(job.count, async () => {
    for (let i = 0; i < job.count; i++) await conn.send(data, to);
  }, () => conn.close());
}

async function bunSender(job: SendJob): Promise<PreparedSender> {
  const drains: (() => void)[] = [];
  const socket = await globals.Bun!.udpSocket({
    hostname: HOST,
    port: 0,
    socket: { drain: () => drains.splice(0).forEach((wake) => wake()) },
  });
  const drained = () => new Promise<void>((wake) => drains.push(wake));
  const data = payload(job.size);
  if (job.side === "native") {
    return timed(job.count, async () => {
      for (let i = 0; i < job.count; i++) {
        while (!socket.send(data, job.port, HOST)) await drained();
      }
    }, () => socket.close());
  }
  const full: (Uint8Array | number | string)[] = [];
  for (let i = 0; i < job.batch; i++) full.push(data, job.port, HOST);
  return timed(job.count, async () => {
    for (let sent = 0; sent < job.count;) {
      const n = Math.min(job.batch, job.count - sent);
      let packets = n === job.batch ? full : full.slice(0, 3 * n);
      for (;;) {
        const went = socket.sendMany(packets);
        sent += went;
        if (went * 3 >= packets.length) break;
        packets = packets.slice(3 * went);
        await drained();
      }
    }
  }, () => socket.close());
}

/** Binds the sender of `job.side`; sending starts with `send()`. */
export function prepareSender(job: SendJob): Promise<PreparedSender> {
  if (job.side === "loop" || job.side === "many") return unisockSender(job);
  if (runtime === "bun") return bunSender(job);
  if (job.side === "native-many") return Promise.reject(new Error("native-many is Bun's sendMany: Bun only"));
  if (runtime === "deno" && globals.Deno!.listenDatagram !== undefined) return Promise.resolve(denoSender(job));
  return dgramSender(job);
}

// As a worker: prepare, then go, as the bench asks.
const data = workerData as { udpSender?: boolean } | null | undefined;
if (!isMainThread && parentPort !== null && data?.udpSender === true) {
  const port = parentPort;
  let prepared: PreparedSender | undefined;
  const reply = (message: SenderReply): void => port.postMessage(message);
  port.on("message", (message: SenderRequest) => {
    (async () => {
      if (message.type === "prepare") {
        prepared = await prepareSender(message.job);
        reply({ type: "ready" });
      } else {
        const sender = prepared;
        prepared = undefined;
        if (sender === undefined) throw new Error("go before prepare");
        reply({ type: "done", result: await sender.send() });
      }
    })().catch((error: unknown) => reply({ type: "error", message: error instanceof Error ? error.stack ?? error.message : String(error) }));
  });
}
