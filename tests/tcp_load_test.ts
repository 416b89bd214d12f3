import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { drain, networks, patternBytes, portOf, sendPattern, startEchoServer } from "./helpers.ts";

const MiB = 1024 * 1024;

/** Resolves with "stalled" when `work` has not settled for `ms`. */
function stalledFor(work: Promise<unknown>, ms: number): Promise<"settled" | "stalled"> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve("stalled"), ms);
    work.then(() => {
      clearTimeout(timer);
      resolve("settled");
    }, () => {
      clearTimeout(timer);
      resolve("settled");
    });
  });
}

for (const { name, net } of networks()) {
  describe(`tcp load (${name} driver)`, () => {
    it("backpressure: a writer of 256 MiB to a reader that does not read waits, and memory stays bounded", async () => {
      await using listener = await net.tcp.listen({ hostname: "127.0.0.1", port: 0 });
      const accepted = listener.accept();
      await using writer = await net.tcp.connect({ hostname: "127.0.0.1", port: portOf(listener) });
      await using reader = await accepted;
      const chunk = patternBytes(MiB, 9);
      const total = 256 * MiB;
      let written = 0;
      const before = process.memoryUsage().rss;
      const writing = (async () => {
        while (written < total) {
          await writer.write(chunk);
          written += chunk.length;
        }
        await writer.closeWrite();
      })();
      // Wait until the writer has been stuck on one write for a while: the reader is not reading.
      let progress = -1;
      for (let round = 0; round < 50 && progress !== written; round++) {
        progress = written;
        await stalledFor(writing, 300);
      }
      assert.equal(progress, written, "the writer stopped making progress");
      assert.ok(written < 64 * MiB, `writer got ${written / MiB} MiB ahead of a reader that reads nothing`);
      const growth = process.memoryUsage().rss - before;
      assert.ok(growth < 128 * MiB, `rss grew ${(growth / MiB).toFixed(0)} MiB while stalled`);
      // Now read it all: every byte arrives, and the writer finishes.
      const received = await drain(reader);
      await writing;
      assert.equal(received.bytes, total);
    });

    it("200 concurrent connections through one listener, each echoing 256 KiB, nothing lost", async () => {
      const server = await startEchoServer(net);
      try {
        const results = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
          const conn = await net.tcp.connect({ hostname: "127.0.0.1", port: server.port });
          try {
            const received = drain(conn);
            const sent = await sendPattern(conn, 256 * 1024, 16 * 1024, 1000 + i);
            await conn.closeWrite();
            const back = await received;
            return back.bytes === 256 * 1024 && back.sha256 === sent;
          } finally {
            conn.close();
          }
        }));
        assert.equal(results.filter(Boolean).length, 200);
      } finally {
        server.close();
        await server.served;
      }
    });
  });
}
