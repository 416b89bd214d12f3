/**
 * What one DNS query's own UDP socket costs, step by step: bind to port 0, send one
 * 40-byte datagram to a loopback sink (awaited), close. The wire resolver pays this twice
 * per uncached lookup (A and AAAA, each from a fresh socket, as the contract asks), where
 * c-ares keeps one socket per server. A diagnostic for the README's "where the remaining
 * time goes", not a goal: it prints microseconds per step for `node:dgram` (what unisock's
 * Node driver uses, and its Deno driver without --unstable-net) and for unisock's
 * `udp.bind` on the runtime that runs it.
 *
 *   node bench/query_socket_cost.ts [--count N] [--rounds N]
 *   deno run -A [--unstable-net] bench/query_socket_cost.ts ...
 *   bun bench/query_socket_cost.ts ...
 *
 *   --count N    sockets per round (default 2000)
 *   --rounds N   rounds of each side, taking turns; the median round is shown (default 3)
 *
 * All traffic is to 127.0.0.1.
 *
 * @module
 */
import dgram from "node:dgram";
import process from "node:process";
import { udp } from "../mod.ts";
import { makeUsage, median, positive, runMain, runtime, runtimeVersion, walkArgs } from "./common.ts";

const BENCH = "query_socket_cost";
const HOST = "127.0.0.1";
const MESSAGE = new Uint8Array(40);

interface Steps {
  bind: number;
  send: number;
  close: number;
}

/** One socket's steps through `node:dgram`, in milliseconds. */
async function dgramSocket(sinkPort: number): Promise<Steps> {
  const t0 = performance.now();
  const socket = dgram.createSocket({ type: "udp4" });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind({ address: "0.0.0.0", port: 0 }, () => resolve());
  });
  socket.address();
  const t1 = performance.now();
  await new Promise<void>((resolve, reject) => socket.send(MESSAGE, sinkPort, HOST, (error) => (error ? reject(error) : resolve())));
  const t2 = performance.now();
  socket.close();
  return { bind: t1 - t0, send: t2 - t1, close: performance.now() - t2 };
}

/** One socket's steps through unisock's `udp.bind`, in milliseconds. */
async function unisockSocket(sinkPort: number): Promise<Steps> {
  const t0 = performance.now();
  const socket = await udp.bind({ hostname: "0.0.0.0", port: 0 });
  const t1 = performance.now();
  await socket.send(MESSAGE, { address: HOST, port: sinkPort });
  const t2 = performance.now();
  socket.close();
  return { bind: t1 - t0, send: t2 - t1, close: performance.now() - t2 };
}

async function round(side: (port: number) => Promise<Steps>, sinkPort: number, count: number): Promise<Steps> {
  const total: Steps = { bind: 0, send: 0, close: 0 };
  for (let i = 0; i < count; i++) {
    const steps = await side(sinkPort);
    total.bind += steps.bind;
    total.send += steps.send;
    total.close += steps.close;
  }
  // microseconds per socket
  return { bind: (total.bind / count) * 1000, send: (total.send / count) * 1000, close: (total.close / count) * 1000 };
}

async function main(): Promise<void> {
  const usage = makeUsage(BENCH, "[--count N] [--rounds N]");
  const options = { count: 2000, rounds: 3 };
  walkArgs(process.argv.slice(2), usage, (flag, value) => {
    if (flag === "--count") options.count = positive(usage, "--count", value(), true);
    else if (flag === "--rounds") options.rounds = positive(usage, "--rounds", value(), true);
    else return false;
    return true;
  });
  const sink = dgram.createSocket({ type: "udp4" });
  sink.on("message", () => {});
  await new Promise<void>((resolve) => sink.bind({ address: HOST, port: 0 }, () => resolve()));
  const sinkPort = sink.address().port;
  const sides = { "node:dgram": dgramSocket, unisock: unisockSocket } as const;
  const results: Record<string, Steps[]> = { "node:dgram": [], unisock: [] };
  try {
    await round(dgramSocket, sinkPort, 100); // warm-up
    await round(unisockSocket, sinkPort, 100);
    for (let r = 0; r < options.rounds; r++) {
      for (const [name, side] of Object.entries(sides)) results[name].push(await round(side, sinkPort, options.count));
    }
  } finally {
    sink.close();
  }
  console.log(`${BENCH} on ${runtime} ${runtimeVersion}: µs per socket (median of ${options.rounds} rounds of ${options.count})`);
  for (const [name, rounds] of Object.entries(results)) {
    const step = (key: keyof Steps): string => median(rounds.map((steps) => steps[key])).toFixed(1).padStart(7);
    const all = median(rounds.map((steps) => steps.bind + steps.send + steps.close)).toFixed(1).padStart(7);
    console.log(`${name.padEnd(11)} bind ${step("bind")}  send ${step("send")}  close ${step("close")}  all ${all}`);
  }
}

runMain(BENCH, main);
