import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { drain, echo, networks, portOf, sendPattern, startEchoServer } from "./helpers.ts";

const MiB = 1024 * 1024;

for (const { name, net } of networks()) {
  describe(`tcp echo (${name} driver)`, () => {
    it("echoes 64 MiB with the same sha256 both ways", async () => {
      const server = await startEchoServer(net);
      try {
        await using conn = await net.tcp.connect({ hostname: "127.0.0.1", port: server.port });
        const received = drain(conn);
        const sent = await sendPattern(conn, 64 * MiB, 64 * 1024 + 7, 1);
        await conn.closeWrite();
        const back = await received;
        assert.equal(back.bytes, 64 * MiB);
        assert.equal(back.sha256, sent);
      } finally {
        server.close();
      }
    });

    it("keeps reading after closeWrite (half-close), and the peer sees end of stream", async () => {
      await using listener = await net.tcp.listen({ hostname: "127.0.0.1", port: 0 });
      const accepted = listener.accept();
      await using client = await net.tcp.connect({ hostname: "127.0.0.1", port: portOf(listener) });
      await using server = await accepted;
      await client.write(new TextEncoder().encode("question"));
      await client.closeWrite();
      const asked = await drain(server);
      assert.equal(asked.bytes, 8);
      await rejectsWrite(client);
      const reply = new TextEncoder().encode("answer after the peer's FIN");
      await server.write(reply);
      await server.closeWrite();
      const buffer = new Uint8Array(100);
      let text = "";
      let count: number | null;
      while ((count = await client.read(buffer)) !== null) text += new TextDecoder().decode(buffer.subarray(0, count));
      assert.equal(text, "answer after the peer's FIN");
    });

    it("reports local and remote addresses that match across the two ends", async () => {
      await using listener = await net.tcp.listen({ hostname: "127.0.0.1", port: 0 });
      assert.deepEqual(listener.localAddress, { address: "127.0.0.1", port: portOf(listener), family: "ipv4" });
      const accepted = listener.accept();
      await using client = await net.tcp.connect({ hostname: "127.0.0.1", port: portOf(listener) });
      await using server = await accepted;
      assert.deepEqual(client.remoteAddress, listener.localAddress);
      assert.deepEqual(server.remoteAddress, client.localAddress);
      assert.deepEqual(server.localAddress, client.remoteAddress);
    });

    it("works over IPv6 loopback", async () => {
      await using listener = await net.tcp.listen({ hostname: "::1", port: 0 });
      assert.equal(listener.localAddress.family, "ipv6");
      const accepted = listener.accept();
      await using client = await net.tcp.connect({ hostname: "[::1]", port: portOf(listener) });
      await using server = await accepted;
      assert.deepEqual(client.remoteAddress, { address: "::1", port: portOf(listener), family: "ipv6" });
      await client.write(Uint8Array.of(1, 2, 3));
      const buffer = new Uint8Array(3);
      assert.equal(await server.read(buffer), 3);
      assert.deepEqual([...buffer], [1, 2, 3]);
    });

    it("moves bytes through the readable and writable web streams", async () => {
      const server = await startEchoServer(net);
      try {
        const conn = await net.tcp.connect({ hostname: "127.0.0.1", port: server.port });
        const message = "streams ".repeat(20_000);
        const writing = new Blob([message]).stream().pipeTo(conn.writable);
        const text = await new Response(conn.readable).text();
        await writing;
        assert.equal(text, message);
        conn.close();
      } finally {
        server.close();
      }
    });

    it("readable hands over 16 MiB in order, in chunks that stay intact after they are read", async () => {
      const server = await startEchoServer(net);
      try {
        await using conn = await net.tcp.connect({ hostname: "127.0.0.1", port: server.port });
        const sending = sendPattern(conn, 16 * MiB, 64 * 1024 + 7, 3).then(async (sha256) => {
          await conn.closeWrite();
          return sha256;
        });
        // The chunks are the runtime's own buffers on Node and Bun (no copy): hashing them
        // again after the whole stream has arrived shows none was reused for later bytes.
        const chunks: Uint8Array[] = [];
        const streamed = createHash("sha256");
        for await (const chunk of conn.readable) {
          // A plain Uint8Array on every runtime (not a Buffer, whose slice is a view).
          assert.equal(Object.getPrototypeOf(chunk), Uint8Array.prototype);
          streamed.update(chunk);
          chunks.push(chunk);
        }
        const later = createHash("sha256");
        for (const chunk of chunks) later.update(chunk);
        const sent = await sending;
        assert.equal(streamed.digest("hex"), sent);
        assert.equal(later.digest("hex"), sent);
      } finally {
        server.close();
      }
    });

    it("serves connections through async iteration of the listener", async () => {
      const listener = await net.tcp.listen({ hostname: "127.0.0.1", port: 0 });
      const served: number[] = [];
      const serving = (async () => {
        for await (const conn of listener) {
          served.push(portOf(listener));
          await echo(conn);
          if (served.length === 3) listener.close();
        }
      })();
      for (let i = 0; i < 3; i++) {
        await using conn = await net.tcp.connect({ hostname: "127.0.0.1", port: portOf(listener) });
        await conn.write(new TextEncoder().encode(`hello ${i}`));
        await conn.closeWrite();
        const back = await drain(conn);
        assert.equal(back.bytes, 7);
      }
      await serving;
      assert.equal(served.length, 3);
    });

    it("applies setNoDelay and setKeepAlive on a live connection", async () => {
      const server = await startEchoServer(net);
      try {
        await using conn = await net.tcp.connect(
          { hostname: "127.0.0.1", port: server.port },
          { noDelay: true, keepAlive: true },
        );
        conn.setNoDelay(false);
        conn.setNoDelay(true);
        conn.setKeepAlive(false);
        conn.setKeepAlive(true);
        await conn.write(Uint8Array.of(42));
        const buffer = new Uint8Array(1);
        assert.equal(await conn.read(buffer), 1);
        assert.equal(buffer[0], 42);
      } finally {
        server.close();
      }
    });

    it("closes on `await using` leaving scope: the peer reads end of stream", async () => {
      await using listener = await net.tcp.listen({ hostname: "127.0.0.1", port: 0 });
      const accepted = listener.accept();
      {
        await using client = await net.tcp.connect({ hostname: "127.0.0.1", port: portOf(listener) });
        await client.write(Uint8Array.of(7));
      }
      await using server = await accepted;
      const back = await drain(server);
      assert.equal(back.bytes, 1);
    });
  });
}

async function rejectsWrite(conn: { write(bytes: Uint8Array): Promise<number> }): Promise<void> {
  await assert.rejects(conn.write(Uint8Array.of(1)), (error: Error & { code?: string }) => error.code === "invalid-state");
}
