/**
 * UDP datagrams per second over 127.0.0.1: unisock's `send` and `sendMany` against the
 * runtime's own UDP API, counted where they arrive, in one process, on whichever runtime
 * runs it.
 *
 *   node bench/udp.ts [options]
 *   deno run -A bench/udp.ts [options]                  (Deno's node:dgram)
 *   deno run -A --unstable-net bench/udp.ts [options]   (Deno.listenDatagram)
 *   bun bench/udp.ts [options]
 *
 * Options (each also from the environment):
 *   --count N      datagrams sent per round (BENCH_COUNT, default 200000)
 *   --size N       payload bytes (BENCH_SIZE, default 512)
 *   --batch N      datagrams per sendMany call (BENCH_BATCH, default 64)
 *   --rounds N     counted rounds of each side (BENCH_ROUNDS, default 5)
 *   --timeout S    seconds a round may take before the run fails (BENCH_TIMEOUT_S, default 60)
 *   --inline       send from the main thread instead of a worker thread (see below)
 *   --json         print one JSON line with the figures instead of the table (BENCH_JSON=1);
 *                  the table then goes to stderr
 *   --only SIDE    run only loop, many, native or native-many (for profiling; no ratios)
 *   --receiver R   receive with `unisock` or `native` whatever the side (to tell sending
 *                  from receiving costs apart); default: unisock for loop and many,
 *                  native for native and native-many
 *
 * Sides (the sending is in bench/udp_sender.ts):
 * - loop: unisock `await send(data, to)` per datagram; a unisock receiver.
 * - many: unisock `await sendMany(batch)` with `--batch` datagrams a call; a unisock receiver.
 * - native: the runtime's own send, one datagram a call (Node `node:dgram`; Deno
 *   `Deno.listenDatagram` under `--unstable-net`, else Deno's `node:dgram`; Bun
 *   `Bun.udpSocket().send`); a native receiver.
 * - native-many (Bun only): Bun's `sendMany`, `--batch` datagrams a call; a native receiver.
 *
 * The receiver is a separate socket in this process, on the main thread: unisock
 * `udp.bind` read with `await receive()` in a loop (default queue of 1024), or the
 * native API's callback ('message' of `node:dgram`, `data` of `Bun.udpSocket`; Deno's
 * `Deno.listenDatagram` has none, so `await conn.receive(buffer)` in a loop, each datagram
 * copied out of the reused buffer: every receiver ends with datagrams it owns, as
 * unisock's `receive()` gives them). The sender is
 * a second socket in a worker thread of the same process, sending as fast as it can,
 * nothing paced. Not on the main thread by default: there the receiver starves, since
 * neither `node:dgram`'s send callback nor Bun's synchronous send ever yields to the event
 * loop's I/O phase, so the receiver's kernel buffer (~200 KiB) overflows after a few
 * hundred datagrams; `--inline` shows it.
 *
 * The clock runs from telling the bound sender to go until the last datagram the receiver
 * got; the round ends when all have arrived, or 200 ms after the sender finished and the
 * receiver heard nothing more. received/s = datagrams received / that time; loss = the
 * share sent but not received (kernel drops when the receiver falls behind, plus, for
 * unisock, what its full queue dropped, shown as `dropped`); sent/s = datagrams / the
 * sender's own time; CPU = user + system of the whole process (both threads) per datagram
 * received. A warm-up round of each side comes first and is not counted; then the sides
 * take turns, the first one rotating every round. Rounds vary a lot: a receiver that falls
 * behind for a millisecond loses what its kernel buffer cannot hold, and the two threads
 * share the machine's cores with the kernel's loopback work; hence 5 rounds by default and
 * the range of received/s next to the medians. Ratios are medians over the rounds of the
 * two sides' received/s in the same round:
 * unisock/native = loop / native, sendMany/loop = many / loop (and on Bun, sendMany
 * unisock/native = many / native-many). The last line is `udp RUNTIME VERSION: unisock Nk
 * dgram/s, native Nk dgram/s, ratio R, sendMany/loop R, loss ...` (Deno adds which native API).
 *
 * @module
 */
import dgram from "node:dgram";
import process from "node:process";
import { Worker } from "node:worker_threads";
import { udp } from "../mod.ts";
import type { DenoDatagramConn } from "../deno/deno_api.ts";
import { alternatives, globals, makeUsage, median, pad, pairedRatio, positive, round3, runCleanups, runMain, runtime, runtimeVersion, walkArgs } from "./common.ts";
import type { Usage } from "./common.ts";
import { HOST, prepareSender } from "./udp_sender.ts";
import type { PreparedSender, SendJob, SenderReply, SenderRequest, SendResult, UdpSide } from "./udp_sender.ts";

const BENCH = "udp";
const QUIET_MS = 200;

const ALL_SIDES: readonly UdpSide[] = ["loop", "many", "native", "native-many"];
const SIDES: readonly UdpSide[] = runtime === "bun" ? ALL_SIDES : ["loop", "many", "native"];

const denoNative = runtime === "deno" && globals.Deno?.listenDatagram !== undefined;
const NATIVE_API = runtime === "bun"
  ? "Bun.udpSocket"
  : runtime === "deno"
  ? denoNative ? "Deno.listenDatagram (--unstable-net)" : "node:dgram (Deno's; no --unstable-net)"
  : "node:dgram";
/** What the summary line names the runtime as: Deno says which native API it had. */
const RUNTIME_LABEL = runtime === "deno" ? `${runtime} ${runtimeVersion} (${denoNative ? "--unstable-net" : "node:dgram"})` : `${runtime} ${runtimeVersion}`;

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

interface Options {
  count: number;
  size: number;
  batch: number;
  rounds: number;
  timeoutMs: number;
  inline: boolean;
  json: boolean;
  only: UdpSide | undefined;
  receiver: "unisock" | "native" | undefined;
}

const usage: Usage = makeUsage(
  BENCH,
  `[--count N] [--size BYTES] [--batch N] [--rounds N] [--timeout SECONDS] [--inline] [--json] [--only ${SIDES.join("|")}] [--receiver unisock|native]`,
);

function parseOptions(args: string[]): Options {
  const env = process.env;
  const options: Options = {
    count: positive(usage, "BENCH_COUNT", env.BENCH_COUNT ?? "200000", true),
    size: positive(usage, "BENCH_SIZE", env.BENCH_SIZE ?? "512", true),
    batch: positive(usage, "BENCH_BATCH", env.BENCH_BATCH ?? "64", true),
    rounds: positive(usage, "BENCH_ROUNDS", env.BENCH_ROUNDS ?? "5", true),
    timeoutMs: positive(usage, "BENCH_TIMEOUT_S", env.BENCH_TIMEOUT_S ?? "60", false) * 1000,
    inline: false,
    json: env.BENCH_JSON === "1" || env.BENCH_JSON === "true",
    only: undefined,
    receiver: undefined,
  };
  const isSide = (text: string | undefined): text is UdpSide => SIDES.some((side) => side === text);
  walkArgs(args, usage, (flag, value) => {
    if (flag === "--count") options.count = positive(usage, "--count", value(), true);
    else if (flag === "--size") options.size = positive(usage, "--size", value(), true);
    else if (flag === "--batch") options.batch = positive(usage, "--batch", value(), true);
    else if (flag === "--rounds") options.rounds = positive(usage, "--rounds", value(), true);
    else if (flag === "--timeout") options.timeoutMs = positive(usage, "--timeout", value(), false) * 1000;
    else if (flag === "--inline") options.inline = true;
    else if (flag === "--json") options.json = true;
    else if (flag === "--only") {
      const text = value();
      if (!isSide(text)) usage(`--only takes ${alternatives(SIDES)} on ${runtime}, got ${JSON.stringify(text)}`);
      options.only = text;
    } else if (flag === "--receiver") {
      const text = value();
      if (text !== "unisock" && text !== "native") usage(`--receiver takes unisock or native, got ${JSON.stringify(text)}`);
      options.receiver = text;
    } else return false;
    return true;
  });
  if (options.size > 65_507) usage(`--size must be at most 65507, got ${options.size}`);
  return options;
}

// ---------------------------------------------------------------------------
// The sender: a worker thread, or this thread with --inline
// ---------------------------------------------------------------------------

interface Sender {
  prepare(job: SendJob): Promise<void>;
  send(): Promise<SendResult>;
  close(): void;
}

function inlineSender(): Sender {
  let prepared: PreparedSender | undefined;
  return {
    async prepare(job) {
      prepared = await prepareSender(job);
    },
    send() {
      const sender = prepared;
      prepared = undefined;
      if (sender === undefined) return Promise.reject(new Error("send before prepare"));
      return sender.send();
    },
    close() {},
  };
}

function workerSender(): Sender {
  const worker = new Worker(new URL("./udp_sender.ts", import.meta.url), { workerData: { udpSender: true } });
  let pending: { resolve(reply: SenderReply): void; reject(error: Error): void } | undefined;
  let failure: Error | undefined;
  const fail = (error: Error): void => {
    failure ??= error;
    pending?.reject(error);
    pending = undefined;
  };
  worker.on("message", (reply: SenderReply) => {
    const waiting = pending;
    pending = undefined;
    if (reply.type === "error") waiting?.reject(new Error(`sender thread: ${reply.message}`));
    else waiting?.resolve(reply);
  });
  worker.on("error", (error: Error) => fail(error));
  worker.on("exit", (code: number) => fail(new Error(`the sender thread exited (code ${code})`)));
  const ask = (request: SenderRequest): Promise<SenderReply> =>
    new Promise((resolve, reject) => {
      if (failure !== undefined) return reject(failure);
      pending = { resolve, reject };
      worker.postMessage(request);
    });
  return {
    async prepare(job) {
      const reply = await ask({ type: "prepare", job });
      if (reply.type !== "ready") throw new Error(`sender thread: expected ready, got ${reply.type}`);
    },
    async send() {
      const reply = await ask({ type: "go" });
      if (reply.type !== "done") throw new Error(`sender thread: expected done, got ${reply.type}`);
      return reply.result;
    },
    close() {
      failure ??= new Error("closed");
      void worker.terminate();
    },
  };
}

// ---------------------------------------------------------------------------
// Receivers, on this thread
// ---------------------------------------------------------------------------

/** Counts what arrives. */
interface Tally {
  count: number;
  bytes: number;
  /** performance.now() of the last arrival; 0 before the first. */
  lastAt: number;
  /** A receive error other than the one closing causes. */
  error: unknown;
}

interface Receiver {
  readonly port: number;
  readonly tally: Tally;
  /** Datagrams unisock's queue dropped (0 for native). */
  dropped(): number;
  close(): void;
}

const newTally = (): Tally => ({ count: 0, bytes: 0, lastAt: 0, error: undefined });

async function unisockReceiver(): Promise<Receiver> {
  const socket = await udp.bind({ hostname: HOST, port: 0 });
  const tally = newTally();
  let closed = false;
  (async () => {
    for (;;) {
      const { data } = await socket.receive();
      tally.count++;
      tally.bytes += data.length;
      tally.lastAt = performance.now();
    }
  })().catch((error: unknown) => {
    if (!closed) tally.error = error;
  });
  return {
    port: socket.localAddress.port,
    tally,
    dropped: () => socket.dropped,
    close() {
      closed = true;
      socket.close();
    },
  };
}

async function dgramReceiver(): Promise<Receiver> {
  const socket = dgram.createSocket("udp4");
  const tally = newTally();
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, HOST, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  socket.on("message", (data: Uint8Array) => {
    tally.count++;
    tally.bytes += data.length;
    tally.lastAt = performance.now();
  });
  socket.on("error", (error: Error) => (tally.error = error));
  return { port: socket.address().port, tally, dropped: () => 0, close: () => socket.close() };
}

function denoReceiver(): Receiver {
  const conn: DenoDatagramConn = globals.Deno!.listenDatagram!({ hostname: HOST, port: 0, transport: "udp" });
  const tally = newTally();
  let closed = false;
  (async () => {
    const buffer = new Uint8Array(65_536);
    for (;;) {
      const [received] = await conn.receive(buffer);
      // The datagram's own copy, as unisock's receive() gives (the buffer is reused).
      const data = received.slice();
      tally.count++;
      tally.bytes += data.length;
      tally.lastAt = performance.now();
    }
  })().catch((error: unknown) => {
    if (!closed) tally.error = error;
  });
  return {
    port: conn.addr.port,
    tally,
    dropped: () => 0,
    close() {
      closed = true;
      conn.close();
    },
  };
}

async function bunReceiver(): Promise<Receiver> {
  const tally = newTally();
  const socket = await globals.Bun!.udpSocket({
    hostname: HOST,
    port: 0,
    socket: {
      data: (_socket, data) => {
        tally.count++;
        tally.bytes += data.length;
        tally.lastAt = performance.now();
      },
      error: (_socket, error) => (tally.error = error),
    },
  });
  return { port: socket.address.port, tally, dropped: () => 0, close: () => socket.close() };
}

function openReceiver(kind: "unisock" | "native"): Promise<Receiver> {
  if (kind === "unisock") return unisockReceiver();
  if (runtime === "bun") return bunReceiver();
  if (denoNative) return Promise.resolve(denoReceiver());
  return dgramReceiver();
}

// ---------------------------------------------------------------------------
// One round
// ---------------------------------------------------------------------------

interface Figures {
  receivedPerSecond: number;
  sentPerSecond: number;
  lossPercent: number;
  received: number;
  dropped: number;
  cpuMicrosPerDatagram: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function udpRound(side: UdpSide, sender: Sender, options: Options, defer: (cleanup: () => void) => void): Promise<Figures> {
  const receiver = await openReceiver(options.receiver ?? (side === "loop" || side === "many" ? "unisock" : "native"));
  defer(() => receiver.close());
  const { tally } = receiver;
  await sender.prepare({ side, port: receiver.port, count: options.count, size: options.size, batch: options.batch });
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const result = await sender.send();
  const sentAt = performance.now();
  // The rest still on its way: until all arrived, or nothing did for QUIET_MS.
  while (tally.count < options.count && tally.error === undefined) {
    if (performance.now() - Math.max(sentAt, tally.lastAt) >= QUIET_MS) break;
    await sleep(5);
  }
  const cpu = process.cpuUsage(cpu0);
  if (tally.error !== undefined) throw tally.error;
  if (tally.count > options.count) throw new Error(`${side}: received ${tally.count} datagrams, sent ${options.count}`);
  if (tally.bytes !== tally.count * options.size) throw new Error(`${side}: received ${tally.bytes} bytes in ${tally.count} datagrams of ${options.size}`);
  const elapsedMs = (tally.count > 0 ? tally.lastAt : performance.now()) - start;
  return {
    receivedPerSecond: tally.count / (elapsedMs / 1000),
    sentPerSecond: result.sent / (result.sendMs / 1000),
    lossPercent: (100 * (options.count - tally.count)) / options.count,
    received: tally.count,
    dropped: receiver.dropped(),
    cpuMicrosPerDatagram: tally.count > 0 ? (cpu.user + cpu.system) / tally.count : 0,
  };
}

/** Runs one round under a deadline, then closes its receiver. */
async function measure(side: UdpSide, sender: Sender, options: Options): Promise<Figures> {
  const cleanups: (() => void)[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${side} round did not finish within ${options.timeoutMs / 1000} s`)), options.timeoutMs);
  });
  try {
    return await Promise.race([udpRound(side, sender, options, (cleanup) => cleanups.push(cleanup)), timeout]);
  } finally {
    clearTimeout(timer);
    runCleanups(cleanups);
  }
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

const LABELS: Record<UdpSide, string> = {
  loop: "unisock send",
  many: "unisock sendMany",
  native: "native send",
  "native-many": "native sendMany",
};

const k = (perSecond: number): string => `${(perSecond / 1000).toFixed(0)}k`;

function row(round: string, side: UdpSide, figures: Figures, note = ""): string {
  return `${round.padEnd(9)}${LABELS[side].padEnd(18)}${pad((figures.receivedPerSecond / 1000).toFixed(1), 12)}` +
    `${pad(figures.lossPercent.toFixed(2), 8)}${pad(String(figures.dropped), 9)}${pad((figures.sentPerSecond / 1000).toFixed(1), 11)}` +
    `${pad(figures.cpuMicrosPerDatagram.toFixed(2), 10)}${note}`;
}

function medianFigures(all: Figures[]): Figures {
  const of = (pick: (figures: Figures) => number): number => median(all.map(pick));
  return {
    receivedPerSecond: of((f) => f.receivedPerSecond),
    sentPerSecond: of((f) => f.sentPerSecond),
    lossPercent: of((f) => f.lossPercent),
    received: of((f) => f.received),
    dropped: of((f) => f.dropped),
    cpuMicrosPerDatagram: of((f) => f.cpuMicrosPerDatagram),
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const print = options.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  const sides = options.only === undefined ? SIDES : [options.only];

  print(
    `${BENCH} on ${runtime} ${runtimeVersion}: ${options.count} datagrams of ${options.size} bytes per round over ${HOST}, ` +
      `sendMany batches of ${options.batch}, ${options.rounds} rounds of each after a warm-up; native = ${NATIVE_API}; ` +
      `sender on ${options.inline ? "the main thread (--inline)" : "a worker thread"}, ` +
      `${options.receiver === undefined ? "" : `${options.receiver} `}receiver on the main thread`,
  );
  print("k/s = 1000 datagrams per second; loss and dropped (unisock's full queue) of the datagrams sent; CPU = whole process");
  print(
    `${"round".padEnd(9)}${"side".padEnd(18)}${pad("received k/s", 12)}${pad("loss %", 8)}${pad("dropped", 9)}` +
      `${pad("sent k/s", 11)}${pad("CPU µs/dg", 10)}`,
  );

  const sender = options.inline ? inlineSender() : workerSender();
  const results: Partial<Record<UdpSide, Figures[]>> = {};
  try {
    for (let round = 0; round <= options.rounds; round++) {
      // Round 0 is the warm-up; the first side rotates so none always goes first.
      const turn = round % sides.length;
      const order = [...sides.slice(turn), ...sides.slice(0, turn)];
      for (const side of order) {
        const figures = await measure(side, sender, options);
        if (round > 0) (results[side] ??= []).push(figures);
        print(row(round === 0 ? "warm-up" : String(round), side, figures, round === 0 ? "  (not counted)" : ""));
      }
    }
  } finally {
    sender.close();
  }

  const medians: Partial<Record<UdpSide, Figures>> = {};
  for (const side of sides) {
    medians[side] = medianFigures(results[side]!);
    const received = results[side]!.map((figures) => figures.receivedPerSecond / 1000);
    const range = `  (received k/s ${Math.min(...received).toFixed(1)} to ${Math.max(...received).toFixed(1)})`;
    print(row("median", side, medians[side]!, range));
  }
  const sideJson = (side: UdpSide) => {
    const figures = medians[side]!;
    return {
      receivedPerSecond: Math.round(figures.receivedPerSecond),
      sentPerSecond: Math.round(figures.sentPerSecond),
      lossPercent: round3(figures.lossPercent),
      droppedByQueue: figures.dropped,
      cpuMicrosPerDatagram: round3(figures.cpuMicrosPerDatagram),
      rounds: results[side]!.map((f) => ({
        receivedPerSecond: Math.round(f.receivedPerSecond),
        sentPerSecond: Math.round(f.sentPerSecond),
        lossPercent: round3(f.lossPercent),
        received: f.received,
        droppedByQueue: f.dropped,
        cpuMicrosPerDatagram: round3(f.cpuMicrosPerDatagram),
      })),
    };
  };
  const head = {
    bench: BENCH,
    runtime,
    version: runtimeVersion,
    nativeApi: NATIVE_API,
    sender: options.inline ? "inline" : "worker",
    receiver: options.receiver ?? "same as the sender",
    count: options.count,
    size: options.size,
    batch: options.batch,
    rounds: options.rounds,
  };

  if (options.only !== undefined) {
    const figures = medians[options.only]!;
    const summary = `${BENCH} ${RUNTIME_LABEL}: ${LABELS[options.only]} only, ${k(figures.receivedPerSecond)} dgram/s, ` +
      `loss ${figures.lossPercent.toFixed(1)}%`;
    print(summary);
    if (options.json) console.log(JSON.stringify({ ...head, only: options.only, [options.only]: sideJson(options.only), summary }));
    return;
  }

  const loop = medians.loop!;
  const many = medians.many!;
  const native = medians.native!;
  const nativeMany = medians["native-many"];
  // Round by round (the sides of one round ran back to back), the median over the rounds.
  const received = (side: UdpSide): number[] => results[side]!.map((figures) => figures.receivedPerSecond);
  const ratio = pairedRatio(received("loop"), received("native"));
  const manyOverLoop = pairedRatio(received("many"), received("loop"));
  const manyOverNative = nativeMany === undefined ? undefined : pairedRatio(received("many"), received("native-many"));
  print(
    `received/s: unisock/native ${ratio.toFixed(2)}, sendMany/loop ${manyOverLoop.toFixed(2)}` +
      (manyOverNative === undefined ? "" : `, sendMany unisock/native ${manyOverNative.toFixed(2)}`) +
      `; sent/s: unisock/native ${(loop.sentPerSecond / native.sentPerSecond).toFixed(2)}, sendMany/loop ${
        (many.sentPerSecond / loop.sentPerSecond).toFixed(2)
      }` + (nativeMany === undefined ? "" : `, sendMany unisock/native ${(many.sentPerSecond / nativeMany.sentPerSecond).toFixed(2)}`),
  );
  const loss = (figures: Figures): string => `${figures.lossPercent.toFixed(1)}%`;
  const summary = `${BENCH} ${RUNTIME_LABEL}: unisock ${k(loop.receivedPerSecond)} dgram/s, native ${k(native.receivedPerSecond)} dgram/s, ` +
    `ratio ${ratio.toFixed(2)}, sendMany/loop ${manyOverLoop.toFixed(2)}` +
    (manyOverNative === undefined ? "" : `, sendMany unisock/native ${manyOverNative.toFixed(2)}`) +
    `; loss unisock ${loss(loop)}, native ${loss(native)}, sendMany ${loss(many)}` +
    (nativeMany === undefined ? "" : `, native sendMany ${loss(nativeMany)}`);
  print(summary);
  if (options.json) {
    console.log(JSON.stringify({
      ...head,
      units: {
        receivedPerSecond: "datagrams received per second, medians",
        sentPerSecond: "datagrams sent per second of the sender's time, medians",
        lossPercent: "% of the datagrams sent that were not received",
      },
      loop: sideJson("loop"),
      many: sideJson("many"),
      native: sideJson("native"),
      ...(nativeMany === undefined ? {} : { nativeMany: sideJson("native-many") }),
      ratio: round3(ratio),
      sendManyOverLoop: round3(manyOverLoop),
      ...(manyOverNative === undefined ? {} : { sendManyOverNative: round3(manyOverNative) }),
      summary,
    }));
  }
}

runMain(BENCH, main);
