import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { describe, it } from "node:test";
import { drain, networks, sendPattern, startEchoServer } from "./helpers.ts";

const openFds = () => readdirSync("/proc/self/fd").length;

/** Waits (bounded) until the runtime has released what it closed: closing is asynchronous. */
async function settleFds(target: number): Promise<number> {
  let count = openFds();
  for (let i = 0; i < 100 && count > target; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    count = openFds();
  }
  return count;
}

for (const { name, net } of networks()) {
  describe(`tcp load (${name} driver)`, () => {
    it("1,000 concurrent connections through one listener, 1 MiB each way, sha256 equal; file descriptors back to the start", async () => {
      const before = openFds();
      const server = await startEchoServer(net);
      const results = await Promise.all(Array.from({ length: 1000 }, async (_, i) => {
        const conn = await net.tcp.connect({ hostname: "127.0.0.1", port: server.port });
        try {
          const received = drain(conn);
          const sent = await sendPattern(conn, 1024 * 1024, 64 * 1024, 50_000 + i);
          await conn.closeWrite();
          const back = await received;
          return back.bytes === 1024 * 1024 && back.sha256 === sent;
        } finally {
          conn.close();
        }
      }));
      server.close();
      await server.served;
      assert.equal(results.filter(Boolean).length, 1000);
      // No more than at the start: every socket released (the runtime may close a descriptor of its own meanwhile).
      const after = await settleFds(before);
      assert.ok(after <= before, `${after} descriptors open, ${before} before`);
    });
  });
}
