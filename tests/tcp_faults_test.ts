import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { closedPort, networks, portOf, rejectsWith, startPeer } from "./helpers.ts";

for (const { name, net } of networks()) {
  describe(`tcp faults (${name} driver)`, () => {
    it("connection-refused on a closed port, naming the address", async () => {
      const port = await closedPort(net);
      const error = await rejectsWith(net.tcp.connect({ hostname: "127.0.0.1", port }), "connection-refused");
      assert.match(error.message, new RegExp(`tcp\\.connect 127\\.0\\.0\\.1:${port}`));
      assert.notEqual(error.cause, undefined);
    });

    it("connection-reset when the peer closes with SO_LINGER 0 (RST)", async () => {
      const peer = await startPeer("reset");
      try {
        await using conn = await net.tcp.connect({ hostname: "127.0.0.1", port: peer.port });
        await conn.write(Uint8Array.of(1));
        const buffer = new Uint8Array(16);
        await rejectsWith(conn.read(buffer), "connection-reset");
        await conn.closed;
      } finally {
        peer.stop();
      }
    });

    it("address-in-use when the port is taken", async () => {
      await using first = await net.tcp.listen({ hostname: "127.0.0.1", port: 0 });
      const error = await rejectsWith(net.tcp.listen({ hostname: "127.0.0.1", port: portOf(first) }), "address-in-use");
      assert.match(error.message, /tcp\.listen/);
    });

    it("timeout when the peer never answers the SYN", async () => {
      const peer = await startPeer("blackhole");
      try {
        const error = await rejectsWith(
          net.tcp.connect({ hostname: "127.0.0.1", port: peer.port }, { timeout: 300 }),
          "timeout",
        );
        assert.match(error.message, /timed out after 300 ms/);
      } finally {
        peer.stop();
      }
    });

    it("abort mid-connect rejects with the signal's reason", async () => {
      const peer = await startPeer("blackhole");
      try {
        const controller = new AbortController();
        const reason = new Error("user gave up");
        const connecting = net.tcp.connect({ hostname: "127.0.0.1", port: peer.port }, { signal: controller.signal });
        setTimeout(() => controller.abort(reason), 100);
        await assert.rejects(connecting, (error) => error === reason);
      } finally {
        peer.stop();
      }
    });

    it("abort mid-read rejects with the signal's reason and closes the connection", async () => {
      await using listener = await net.tcp.listen({ hostname: "127.0.0.1", port: 0 });
      const accepted = listener.accept();
      await using client = await net.tcp.connect({ hostname: "127.0.0.1", port: portOf(listener) });
      await using server = await accepted;
      const controller = new AbortController();
      const reading = client.read(new Uint8Array(8), { signal: controller.signal });
      setTimeout(() => controller.abort(new Error("stop reading")), 50);
      await assert.rejects(reading, /stop reading/);
      await rejectsWith(client.write(Uint8Array.of(1)), "invalid-state");
      const end = await server.read(new Uint8Array(8));
      assert.equal(end, null, "the peer sees the connection end");
    });

    it("an already aborted signal rejects before any connect", async () => {
      const port = await closedPort(net);
      const reason = new Error("already aborted");
      await assert.rejects(
        net.tcp.connect({ hostname: "127.0.0.1", port }, { signal: AbortSignal.abort(reason) }),
        (error) => error === reason,
      );
    });
  });
}
