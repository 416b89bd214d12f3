import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { networks, portOf, rejectsWith, startEchoServer } from "./helpers.ts";

type Loose = never;

for (const { name, net } of networks()) {
  describe(`tcp bad input (${name} driver)`, () => {
    const connectCases: [string, unknown, unknown][] = [
      ["port 0", { hostname: "127.0.0.1", port: 0 }, {}],
      ["port 65536", { hostname: "127.0.0.1", port: 65536 }, {}],
      ["port -1", { hostname: "127.0.0.1", port: -1 }, {}],
      ["port 1.5", { hostname: "127.0.0.1", port: 1.5 }, {}],
      ["port as a string", { hostname: "127.0.0.1", port: "80" }, {}],
      ["empty host", { hostname: "", port: 80 }, {}],
      ["host not a string", { hostname: 127, port: 80 }, {}],
      ["no address object", null, {}],
      ["negative timeout", { hostname: "127.0.0.1", port: 80 }, { timeout: -1 }],
      ["NaN timeout", { hostname: "127.0.0.1", port: 80 }, { timeout: Number.NaN }],
      ["signal not a signal", { hostname: "127.0.0.1", port: 80 }, { signal: "stop" }],
      ["odd IPv4 spelling", { hostname: "127.1", port: 80 }, {}],
      ["decimal IPv4 spelling", { hostname: "2130706433", port: 80 }, {}],
      ["name with an empty label", { hostname: "a..b", port: 80 }, {}],
      ["name with a 64-octet label", { hostname: `${"a".repeat(64)}.test`, port: 80 }, {}],
      ["name with a space", { hostname: "a b", port: 80 }, {}],
      ["localAddress not an IP", { hostname: "127.0.0.1", port: 80 }, { localAddress: "here" }],
    ];
    for (const [label, remote, options] of connectCases) {
      it(`connect: ${label} → invalid-argument`, async () => {
        const error = await rejectsWith(() => net.tcp.connect(remote as Loose, options as Loose), "invalid-argument");
        assert.match(error.message, /^(tcp\.connect|resolve)/);
      });
    }

    const listenCases: [string, unknown][] = [
      ["port 65536", { hostname: "127.0.0.1", port: 65536 }],
      ["no port", { hostname: "127.0.0.1" }],
      ["empty host", { hostname: "", port: 0 }],
      ["backlog 0", { hostname: "127.0.0.1", port: 0, backlog: 0 }],
      ["no options", undefined],
    ];
    for (const [label, options] of listenCases) {
      it(`listen: ${label} → invalid-argument`, async () => {
        await rejectsWith(() => net.tcp.listen(options as Loose), "invalid-argument");
      });
    }

    it("write, read, setNoDelay after close → invalid-state; close twice is harmless", async () => {
      const server = await startEchoServer(net);
      try {
        const conn = await net.tcp.connect({ hostname: "127.0.0.1", port: server.port });
        conn.close();
        conn.close();
        await rejectsWith(conn.write(Uint8Array.of(1)), "invalid-state");
        await rejectsWith(conn.read(new Uint8Array(1)), "invalid-state");
        await rejectsWith(() => conn.setNoDelay(true), "invalid-state");
        await rejectsWith(conn.closeWrite(), "invalid-state");
        await conn.closed;
      } finally {
        server.close();
      }
    });

    it("write after closeWrite → invalid-state; bad buffers → invalid-argument; two reads at once → invalid-state", async () => {
      const server = await startEchoServer(net);
      try {
        await using conn = await net.tcp.connect({ hostname: "127.0.0.1", port: server.port });
        await rejectsWith(conn.write("text" as Loose), "invalid-argument");
        await rejectsWith(conn.read([] as Loose), "invalid-argument");
        await rejectsWith(() => conn.setKeepAlive(true, -5), "invalid-argument");
        const first = conn.read(new Uint8Array(4));
        await rejectsWith(conn.read(new Uint8Array(4)), "invalid-state");
        await conn.write(Uint8Array.of(1, 2));
        assert.equal(await first, 2);
        await conn.closeWrite();
        await rejectsWith(conn.write(Uint8Array.of(1)), "invalid-state");
      } finally {
        server.close();
      }
    });

    it("writes that are not awaited keep their order", async () => {
      const server = await startEchoServer(net);
      try {
        await using conn = await net.tcp.connect({ hostname: "127.0.0.1", port: server.port });
        const parts = Array.from({ length: 50 }, (_, i) => new Uint8Array(10_000).fill(i));
        const writes = parts.map((part) => conn.write(part));
        assert.deepEqual(await Promise.all(writes), parts.map(() => 10_000));
        await conn.closeWrite();
        const buffer = new Uint8Array(500_000);
        let filled = 0;
        let count: number | null;
        while ((count = await conn.read(buffer.subarray(filled))) !== null && count > 0) filled += count;
        assert.equal(filled, 500_000);
        for (let i = 0; i < 50; i++) assert.equal(buffer[i * 10_000 + 9_999], i);
      } finally {
        server.close();
      }
    });

    it("accept after the listener is closed → invalid-state", async () => {
      const listener = await net.tcp.listen({ hostname: "127.0.0.1", port: 0 });
      const waiting = listener.accept();
      listener.close();
      await rejectsWith(waiting, "invalid-state");
      await rejectsWith(listener.accept(), "invalid-state");
      assert.ok(portOf(listener) > 0);
    });
  });
}
