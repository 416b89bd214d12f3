/**
 * Why `readable` is slower than a `read` loop on Deno: Deno's own Unix-socket read loop,
 * 1 GiB per round, with the buffer it reads into being one reused 64 KiB buffer, a fresh
 * 64 KiB buffer per read, 64 KiB pieces of 1 MiB slabs, or Deno's own `conn.readable`.
 * A stream hands each chunk on, so it cannot reuse one buffer. A diagnostic for the
 * README's "where the remaining time goes"; no unisock code is involved. Deno only.
 *
 *   deno run -A bench/deno_read_buffers.ts [--rounds N]
 *
 * @module
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { globals, makeUsage, median, positive, runMain, runtime, runtimeVersion, walkArgs } from "./common.ts";

const BENCH = "deno_read_buffers";
const TOTAL = 1024 * 1024 * 1024;
const CHUNK = 64 * 1024;
const SLAB = 1024 * 1024;
const MODES = ["reused", "fresh", "slab", "readable"] as const;
type Mode = (typeof MODES)[number];

interface DenoUnixConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  readonly readable: ReadableStream<Uint8Array>;
}
interface DenoUnix {
  listen(options: { transport: "unix"; path: string }): { accept(): Promise<DenoUnixConn>; close(): void };
  connect(options: { transport: "unix"; path: string }): Promise<DenoUnixConn>;
}

/** One transfer of 1 GiB, received the way `mode` says; MB/s. */
async function round(deno: DenoUnix, file: string, mode: Mode): Promise<number> {
  const listener = deno.listen({ transport: "unix", path: file });
  const accepted = listener.accept();
  const client = await deno.connect({ transport: "unix", path: file });
  const server = await accepted;
  try {
    const bytes = new Uint8Array(CHUNK);
    const start = performance.now();
    const sending = (async () => {
      for (let sent = 0; sent < TOTAL;) sent += await client.write(bytes.subarray(0, Math.min(CHUNK, TOTAL - sent)));
      await client.closeWrite();
    })();
    let received = 0;
    if (mode === "readable") {
      for await (const chunk of server.readable) received += chunk.length;
    } else {
      const reused = new Uint8Array(CHUNK);
      let slab = new Uint8Array(SLAB);
      let used = 0;
      for (;;) {
        let buffer = reused;
        if (mode === "fresh") buffer = new Uint8Array(CHUNK);
        if (mode === "slab") {
          if (slab.length - used < CHUNK) {
            slab = new Uint8Array(SLAB);
            used = 0;
          }
          buffer = slab.subarray(used, used + CHUNK);
        }
        const count = await server.read(buffer);
        if (count === null) break;
        used += count;
        received += count;
      }
    }
    await sending;
    if (received !== TOTAL) throw new Error(`${mode}: received ${received} of ${TOTAL} bytes`);
    return TOTAL / 1e6 / ((performance.now() - start) / 1000);
  } finally {
    for (const end of [server, client]) {
      try {
        end.close();
      } catch {
        // already closed (readable closes the connection at its end)
      }
    }
    listener.close();
    fs.rmSync(file, { force: true });
  }
}

async function main(): Promise<void> {
  const usage = makeUsage(BENCH, "[--rounds N]");
  let rounds = 3;
  walkArgs(process.argv.slice(2), usage, (flag, value) => {
    if (flag !== "--rounds") return false;
    rounds = positive(usage, "--rounds", value(), true);
    return true;
  });
  if (runtime !== "deno") usage("runs on Deno only");
  const deno = globals.Deno as unknown as DenoUnix;
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "unisock-deno-read-"));
  const results = new Map<Mode, number[]>(MODES.map((mode) => [mode, []]));
  try {
    let n = 0;
    for (let r = 0; r < rounds; r++) {
      for (const mode of MODES) results.get(mode)!.push(await round(deno, path.join(directory, `${n++}.sock`), mode));
    }
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
  console.log(`${BENCH} on ${runtime} ${runtimeVersion}: MB/s receiving 1 GiB over a Unix socket (median, and each of ${rounds} rounds)`);
  for (const [mode, mbps] of results) console.log(`${mode.padEnd(9)} ${median(mbps).toFixed(0).padStart(6)}  (${mbps.map((v) => v.toFixed(0)).join(" ")})`);
}

runMain(BENCH, main);
