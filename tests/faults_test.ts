import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadableDrivers } from "../network/ambient.ts";
import { SocketError } from "../core/errors.ts";
import { WireResolver } from "../resolve/wire/wire_resolver.ts";
import { drain, networks, portOf, rejectsWith, startEchoServer, startPeer } from "./helpers.ts";
import { startDnsmasq } from "./peers/dnsmasq.ts";
import { answer, startFaultDns } from "./peers/fault_dns.ts";

/** A hang detector: the read gives up after 20 s (a test failure, not a timing claim). */
const noHang = () => ({ signal: AbortSignal.timeout(20_000) });

for (const { name, net } of networks()) {
  describe(`faults (${name} driver)`, () => {
    it("a peer process killed mid-transfer: the reader gets a clean end or connection-reset, never a hang", async () => {
      const peer = await startPeer("stream");
      try {
        await using conn = await net.tcp.connect({ hostname: "127.0.0.1", port: peer.port });
        const buffer = new Uint8Array(64 * 1024);
        let received = 0;
        while (received < 1024 * 1024) received += (await conn.read(buffer, noHang())) ?? 0;
        await peer.kill();
        let outcome = "";
        try {
          while ((await conn.read(buffer, noHang())) !== null) received += 0;
          outcome = "end";
        } catch (error) {
          outcome = error instanceof SocketError ? error.code : String(error);
        }
        assert.ok(outcome === "end" || outcome === "connection-reset", `read ended with ${outcome}`);
      } finally {
        peer.stop();
      }
    });

    it("a peer process killed while we write: the writer gets connection-reset, never a hang", async () => {
      const peer = await startPeer("sink");
      try {
        await using conn = await net.tcp.connect({ hostname: "127.0.0.1", port: peer.port });
        const chunk = new Uint8Array(64 * 1024);
        for (let i = 0; i < 16; i++) await conn.write(chunk);
        await peer.kill();
        const error = await rejectsWith(async () => {
          // The kernel needs a write or two to learn the peer is gone; bounded.
          for (let i = 0; i < 10_000; i++) await conn.write(chunk);
        }, "connection-reset");
        assert.match(error.message, /tcp\.write/);
      } finally {
        peer.stop();
      }
    });

    it("closing a listener with connections in flight: they go on; waiting accepts fail; new connects are refused", async () => {
      const listener = await net.tcp.listen({ hostname: "127.0.0.1", port: 0 });
      const port = portOf(listener);
      const accepted = listener.accept();
      await using client = await net.tcp.connect({ hostname: "127.0.0.1", port });
      await using server = await accepted;
      const waiting = listener.accept();
      await client.write(new Uint8Array(100_000).fill(3));
      listener.close();
      await rejectsWith(waiting, "invalid-state");
      await client.write(new Uint8Array(100_000).fill(4));
      await client.closeWrite();
      const got = await drain(server);
      assert.equal(got.bytes, 200_000, "the connection in flight kept every byte");
      await rejectsWith(net.tcp.connect({ hostname: "127.0.0.1", port }), "connection-refused");
    });

    it("closing an echo server's listener with 20 connections in flight: accepted ones finish, the rest are reset, none hangs", async () => {
      const server = await startEchoServer(net);
      const clients = await Promise.all(Array.from({ length: 20 }, () => net.tcp.connect({ hostname: "127.0.0.1", port: server.port })));
      for (const client of clients) await client.write(new Uint8Array(10_000));
      server.close();
      const outcomes = await Promise.all(clients.map(async (client) => {
        try {
          await client.closeWrite();
          const back = await drain(client);
          return back.bytes === 10_000 ? "echoed" : `short ${back.bytes}`;
        } catch (error) {
          return error instanceof SocketError ? error.code : String(error);
        } finally {
          client.close();
        }
      }));
      // Connections the server had accepted finish their echo; those still in the accept
      // queue go with the listener (reset).
      assert.deepEqual(outcomes.filter((o) => o !== "echoed" && o !== "connection-reset"), []);
    });
  });
}

describe("faults: DNS server gone", () => {
  for (const driver of loadableDrivers()) {
    it(`a stopped dnsmasq gives temporary-resolver-failure, not a hang (${driver.name} driver)`, async () => {
      const dns = await startDnsmasq();
      const resolver = new WireResolver({ nameservers: [dns.server], hosts: {}, timeout: 200, attempts: 2 }, driver);
      try {
        assert.deepEqual(await resolver.resolve("a.test", "ipv4"), ["203.0.113.10"]);
      } finally {
        await dns.stop();
      }
      resolver.clearCache();
      await rejectsWith(resolver.resolve("a.test", "ipv4"), "temporary-resolver-failure");
    });

    it(`a DNS server that dies mid-query gives temporary-resolver-failure (${driver.name} driver)`, async () => {
      let asked: () => void = () => {};
      const queried = new Promise<void>((resolve) => (asked = resolve));
      const server = await startFaultDns({
        udp: (query) => {
          asked();
          return { kind: "reply", packet: answer(query, []), delayMs: 5_000 };
        },
      });
      const resolver = new WireResolver({ nameservers: [`127.0.0.1:${server.port}`], hosts: {}, timeout: 300, attempts: 2 }, driver);
      const pending = resolver.resolve("mid.test", "ipv4");
      await queried;
      await server.close();
      await rejectsWith(pending, "temporary-resolver-failure");
    });
  }
});
