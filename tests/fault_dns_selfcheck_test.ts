import assert from "node:assert/strict";
import dgram from "node:dgram";
import net from "node:net";
import { describe, it } from "node:test";
import { answersQuery, decodeResponse, encodeQuery, frameForTcp, TcpFrameReader } from "../resolve/wire/packet.ts";
import { answer, startFaultDns } from "./peers/fault_dns.ts";


/** Sends one datagram from a fresh socket; collects what comes back within `waitMs`. */
async function askUdp(port: number, message: Uint8Array, waitMs: number, want = 1): Promise<{ bytes: Uint8Array; port: number }[]> {
  const socket = dgram.createSocket("udp4");
  const received: { bytes: Uint8Array; port: number }[] = [];
  try {
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, waitMs);
      socket.on("message", (bytes: Uint8Array, remote: dgram.RemoteInfo) => {
        received.push({ bytes: new Uint8Array(bytes), port: remote.port });
        if (received.length >= want) {
          clearTimeout(timer);
          resolve();
        }
      });
      socket.send(message, port, "127.0.0.1", (error) => {
        if (error) {
          clearTimeout(timer);
          reject(error);
        }
      });
    });
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
  return received;
}

/** Connects, sends `message` framed, reads one framed reply (or undefined when the server closes). */
function askTcp(port: number, message: Uint8Array): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(frameForTcp(message)));
    const reader = new TcpFrameReader();
    socket.on("data", (chunk: Uint8Array) => {
      const [first] = reader.push(chunk);
      if (first !== undefined) {
        socket.destroy();
        resolve(first);
      }
    });
    socket.on("close", () => resolve(undefined));
    socket.on("error", (error: Error & { code?: string }) => {
      if (error.code === "ECONNRESET") resolve(undefined);
      else reject(error);
    });
  });
}

describe("fault DNS server (self-check)", () => {
  it("answers over UDP and over TCP on the same port", async () => {
    const server = await startFaultDns({
      udp: (query) => ({ kind: "reply", packet: answer(query, [{ type: "A", name: "udp.test", ttl: 5, data: "192.0.2.1" }]) }),
      tcp: (query) => ({ kind: "reply", packet: answer(query, [{ type: "A", name: "tcp.test", ttl: 5, data: "192.0.2.2" }]) }),
    });
    try {
      const [reply] = await askUdp(server.port, encodeQuery(0x0101, "udp.test", "A", true), 2000);
      assert.ok(reply, "no UDP reply");
      assert.equal(reply.port, server.port);
      const udpResponse = decodeResponse(reply.bytes, "udp.test");
      assert.ok(answersQuery(udpResponse, 0x0101, "udp.test", "A"));
      assert.deepEqual(udpResponse.records.map((r) => r.data), ["192.0.2.1"]);

      const tcpBytes = await askTcp(server.port, encodeQuery(0x0202, "tcp.test", "A", false));
      assert.ok(tcpBytes, "no TCP reply");
      const tcpResponse = decodeResponse(tcpBytes, "tcp.test");
      assert.ok(answersQuery(tcpResponse, 0x0202, "tcp.test", "A"));
      assert.deepEqual(tcpResponse.records.map((r) => r.data), ["192.0.2.2"]);
      assert.equal(server.udpQueries, 1);
      assert.equal(server.tcpQueries, 1);
    } finally {
      await server.close();
    }
  });

  it("sends from-other-port replies from another port, and raw bytes as given", async () => {
    const server = await startFaultDns({
      udp: (query) => ({
        kind: "many",
        actions: [
          { kind: "from-other-port", packet: answer(query, [], { rcode: "REFUSED" }) },
          { kind: "raw", bytes: Uint8Array.of(1, 2, 3), delayMs: 50 },
          { kind: "reply", packet: answer(query, [{ type: "AAAA", name: "x.test", ttl: 5, data: "2001:db8::5" }]), delayMs: 100 },
        ],
      }),
    });
    try {
      const replies = await askUdp(server.port, encodeQuery(7, "x.test", "AAAA", true), 3000, 3);
      assert.equal(replies.length, 3);
      const spoofed = replies.find((r) => r.port !== server.port);
      assert.ok(spoofed, "every reply came from the server's port");
      assert.equal(decodeResponse(spoofed.bytes, "x.test").rcode, "REFUSED");
      const own = replies.filter((r) => r.port === server.port);
      assert.equal(own.length, 2);
      assert.deepEqual(own[0].bytes, Uint8Array.of(1, 2, 3));
      assert.deepEqual(decodeResponse(own[1].bytes, "x.test").records.map((r) => r.data), ["2001:db8::5"]);
    } finally {
      await server.close();
    }
  });

  it("drops: no UDP answer, TCP closed without a tcp handler; close() clears pending replies", async () => {
    const server = await startFaultDns({
      udp: (query) => query.id === 1 ? { kind: "drop" } : { kind: "reply", packet: answer(query, []), delayMs: 60_000 },
    });
    try {
      assert.deepEqual(await askUdp(server.port, encodeQuery(1, "drop.test", "A", false), 200), []);
      assert.equal(await askTcp(server.port, encodeQuery(2, "drop.test", "A", false)), undefined);
      assert.equal(server.tcpQueries, 1);
      // A query whose reply is a minute away; close() must not wait for it.
      const socket = dgram.createSocket("udp4");
      await new Promise<void>((resolve) => socket.send(encodeQuery(3, "late.test", "A", false), server.port, "127.0.0.1", () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 50));
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      assert.equal(server.udpQueries, 2);
      // Undecodable queries are ignored and not counted.
      assert.deepEqual(await askUdp(server.port, Uint8Array.of(1, 2, 3), 100), []);
      assert.equal(server.udpQueries, 2);
    } finally {
      const started = performance.now();
      await server.close();
      assert.ok(performance.now() - started < 1000);
    }
  });
});
