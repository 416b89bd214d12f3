import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { networks, patternBytes, rejectsWith } from "./helpers.ts";

type Loose = never;
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (value: string) => new TextEncoder().encode(value);

for (const { name, net } of networks()) {
  describe(`udp (${name} driver)`, () => {
    it("sends and receives on 127.0.0.1, with the sender's address", async () => {
      await using a = await net.udp.bind({ hostname: "127.0.0.1" });
      await using b = await net.udp.bind({ hostname: "127.0.0.1", port: 0 });
      assert.equal(a.localAddress.family, "ipv4");
      assert.equal(await a.send(bytes("ping"), b.localAddress), 4);
      const got = await b.receive();
      assert.equal(text(got.data), "ping");
      assert.deepEqual(got.remoteAddress, a.localAddress);
    });

    it("works over IPv6 on ::1", async () => {
      await using a = await net.udp.bind({ hostname: "::1" });
      await using b = await net.udp.bind({ hostname: "::1" });
      assert.deepEqual(b.localAddress.address, "::1");
      await a.send(bytes("six"), { address: "::1", port: b.localAddress.port });
      const got = await b.receive();
      assert.equal(text(got.data), "six");
      assert.deepEqual(got.remoteAddress, { address: "::1", port: a.localAddress.port, family: "ipv6" });
    });

    it("a connected socket sends to its peer and ignores other senders", async () => {
      await using server = await net.udp.bind({ hostname: "127.0.0.1" });
      await using peer = await net.udp.bind({ hostname: "127.0.0.1" });
      await using stranger = await net.udp.bind({ hostname: "127.0.0.1" });
      server.connect(peer.localAddress);
      assert.deepEqual(server.remoteAddress, peer.localAddress);
      await stranger.send(bytes("from a stranger"), server.localAddress);
      await peer.send(bytes("from the peer"), server.localAddress);
      assert.equal(text((await server.receive()).data), "from the peer");
      await server.send(bytes("reply"));
      assert.equal(text((await peer.receive()).data), "reply");
      await rejectsWith(server.send(bytes("x"), stranger.localAddress), "invalid-argument");
      server.disconnect();
      assert.equal(server.remoteAddress, undefined);
      await stranger.send(bytes("now heard"), server.localAddress);
      assert.equal(text((await server.receive()).data), "now heard");
    });

    it("a destination sent to before is checked again after connect, and its payload size every time", async () => {
      await using a = await net.udp.bind({ hostname: "127.0.0.1" });
      await using b = await net.udp.bind({ hostname: "127.0.0.1" });
      await using c = await net.udp.bind({ hostname: "127.0.0.1" });
      const toB = { address: "127.0.0.1", port: b.localAddress.port };
      await a.send(bytes("first"), toB);
      await rejectsWith(a.send(new Uint8Array(65_508), toB), "datagram-too-large");
      await rejectsWith(a.send("not bytes" as Loose, toB), "invalid-argument");
      a.connect(c.localAddress);
      await rejectsWith(a.send(bytes("not to b"), toB), "invalid-argument");
      a.disconnect();
      await a.send(bytes("second"), toB);
      assert.deepEqual([text((await b.receive()).data), text((await b.receive()).data)], ["first", "second"]);
      a.close();
      await rejectsWith(a.send(bytes("closed"), toB), "invalid-state");
    });

    it("datagram-too-large past 65,507 bytes over IPv4; the largest one arrives whole", async () => {
      await using a = await net.udp.bind({ hostname: "127.0.0.1" });
      await using b = await net.udp.bind({ hostname: "127.0.0.1" });
      await rejectsWith(a.send(new Uint8Array(65_508), b.localAddress), "datagram-too-large");
      const largest = patternBytes(65_507, 3);
      await a.send(largest, b.localAddress);
      const got = await b.receive();
      assert.equal(got.data.length, 65_507);
      assert.deepEqual(got.data, largest);
    });

    it("10,000 datagrams counted and checksummed; loss only past the queue bound, and counted", async () => {
      await using sender = await net.udp.bind({ hostname: "127.0.0.1" });
      await using receiver = await net.udp.bind({ hostname: "127.0.0.1", receiveQueueSize: 256 });
      const sent = new Map<number, string>();
      const total = 10_000;
      for (let seq = 0; seq < total; seq++) {
        const data = patternBytes(512, seq + 1);
        new DataView(data.buffer).setUint32(0, seq);
        sent.set(seq, createHash("sha256").update(data).digest("hex"));
        await sender.send(data, receiver.localAddress);
        // Let the event loop hand datagrams over so the kernel's buffer never overflows:
        // any loss must then be ours, past the queue bound.
        if (seq % 16 === 15) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      const received = new Set<number>();
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 500);
      try {
        while (received.size + receiver.dropped < total) {
          const { data } = await receiver.receive({ signal: controller.signal });
          const seq = new DataView(data.buffer, data.byteOffset).getUint32(0);
          assert.equal(createHash("sha256").update(data).digest("hex"), sent.get(seq), `datagram ${seq} intact`);
          assert.ok(!received.has(seq), `datagram ${seq} once`);
          received.add(seq);
        }
      } catch (error) {
        throw new Error(`received ${received.size}, dropped ${receiver.dropped} of ${total}`, { cause: error });
      } finally {
        clearTimeout(timer);
      }
      assert.equal(received.size + receiver.dropped, total);
      assert.equal(received.size, 256, "the queue held exactly its bound; the rest was dropped and counted");
    });

    it("sendMany sends every datagram, in order", async () => {
      await using a = await net.udp.bind({ hostname: "127.0.0.1" });
      await using b = await net.udp.bind({ hostname: "127.0.0.1" });
      const datagrams = Array.from({ length: 20 }, (_, i) => ({ data: bytes(`d${i}`), to: b.localAddress }));
      assert.equal(await a.sendMany(datagrams), 20);
      const got: string[] = [];
      for (let i = 0; i < 20; i++) got.push(text((await b.receive()).data));
      assert.deepEqual(got, datagrams.map((d) => text(d.data)));
    });

    it("async iteration ends when the socket closes; a pending receive rejects with invalid-state", async () => {
      const b = await net.udp.bind({ hostname: "127.0.0.1" });
      await using a = await net.udp.bind({ hostname: "127.0.0.1" });
      const seen: string[] = [];
      const iterating = (async () => {
        for await (const datagram of b) {
          seen.push(text(datagram.data));
          if (seen.length === 2) b.close();
        }
      })();
      await a.send(bytes("one"), b.localAddress);
      await a.send(bytes("two"), b.localAddress);
      await iterating;
      assert.deepEqual(seen, ["one", "two"]);
      const c = await net.udp.bind({ hostname: "127.0.0.1" });
      const pending = c.receive();
      c.close();
      await rejectsWith(pending, "invalid-state");
      await rejectsWith(c.send(bytes("x"), a.localAddress), "invalid-state");
    });

    it("receive stops on its signal with the signal's reason", async () => {
      await using a = await net.udp.bind({ hostname: "127.0.0.1" });
      const reason = new Error("no more waiting");
      const controller = new AbortController();
      const pending = a.receive({ signal: controller.signal });
      setTimeout(() => controller.abort(reason), 20);
      await assert.rejects(pending, (error) => error === reason);
    });

    it("socket options apply where the runtime has them, and are not-supported where not", async () => {
      await using socket = await net.udp.bind({ hostname: "127.0.0.1" });
      const denoNative = name === "deno" && typeof (globalThis as { Deno?: { listenDatagram?: unknown } }).Deno?.listenDatagram === "function";
      if (denoNative) {
        await rejectsWith(() => socket.setBroadcast(true), "not-supported");
        await rejectsWith(() => socket.setTtl(8), "not-supported");
      } else {
        socket.setBroadcast(true);
        socket.setTtl(8);
      }
      socket.setMulticastTtl(2);
      socket.setMulticastLoopback(true);
    });

    it("address-in-use without reuseAddress", async () => {
      await using a = await net.udp.bind({ hostname: "127.0.0.1" });
      await rejectsWith(net.udp.bind({ hostname: "127.0.0.1", port: a.localAddress.port }), "address-in-use");
    });

    it("bad input → invalid-argument", async () => {
      await using a = await net.udp.bind({ hostname: "127.0.0.1" });
      await rejectsWith(a.send(bytes("x"), { address: "localhost", port: 9 }), "invalid-argument");
      await rejectsWith(a.send(bytes("x"), { address: "127.0.0.1", port: 0 }), "invalid-argument");
      await rejectsWith(a.send(bytes("x")), "invalid-argument");
      await rejectsWith(a.send("x" as Loose, { address: "127.0.0.1", port: 9 }), "invalid-argument");
      await rejectsWith(a.send(bytes("x"), { address: "::1", port: 9 }), "invalid-argument");
      await rejectsWith(() => a.connect({ address: "127.1", port: 9 }), "invalid-argument");
      await rejectsWith(() => a.setTtl(0), "invalid-argument");
      await rejectsWith(net.udp.bind({ hostname: "127.0.0.1", port: 70_000 }), "invalid-argument");
      await rejectsWith(net.udp.bind({ hostname: "" }), "invalid-argument");
      await rejectsWith(a.joinMulticast("not-a-group"), "invalid-argument");
    });
  });
}
