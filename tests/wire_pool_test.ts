/**
 * The wire resolver's UDP socket pool and DNS 0x20, against the fault-injecting server:
 * few sockets on random ports each carrying at most 100 queries, closed when idle; the
 * question in random case; a reply in the wrong case dropped and the query asked again
 * without 0x20; forged replies never cached.
 */
import assert from "node:assert/strict";
import { readdirSync, readlinkSync } from "node:fs";
import { describe, it } from "node:test";
import type dnsPacket from "dns-packet";
import { loadableDrivers } from "../network/ambient.ts";
import type { Driver } from "../core/driver.ts";
import { WireResolver } from "../resolve/wire/wire_resolver.ts";
import type { WireResolverOptions } from "../resolve/wire/options.ts";
import { DEFAULT_MAX_QUERIES_PER_SOCKET, IDLE_CLOSE_MS, openPoolSockets } from "../resolve/wire/udp_pool.ts";
import { decodeResponse, decodeResponseWithDnsPacket } from "../resolve/wire/packet.ts";
import { SocketError } from "../core/errors.ts";
import dnsPacketCodec from "dns-packet";
import { answer, startFaultDns, swapCase } from "./peers/fault_dns.ts";
import { fuzzBases, hostileReplies } from "./peers/dns_mutations.ts";
import type { FaultAction, FaultDns } from "./peers/fault_dns.ts";

type Query = dnsPacket.DecodedPacket;
type Remote = { address: string; port: number };

const GOOD = "203.0.113.20";
const FORGED = "203.0.113.66";
const aRecord = (query: Query, data = GOOD): dnsPacket.StringAnswer => ({
  type: "A",
  name: query.questions?.[0]?.name ?? "",
  ttl: 60,
  data,
});
const good = (query: Query, delayMs?: number): FaultAction => ({ kind: "reply", packet: answer(query, [aRecord(query)]), delayMs });
const questionName = (query: Query): string => query.questions?.[0]?.name ?? "";
const hasUpper = (name: string): boolean => /[A-Z]/.test(name);

async function withServer(
  udp: (query: Query, raw: Uint8Array, remote: Remote) => FaultAction,
  body: (server: FaultDns, make: (options?: WireResolverOptions) => WireResolver, driver: Driver) => Promise<void>,
): Promise<void> {
  for (const driver of loadableDrivers()) {
    const server = await startFaultDns({ udp });
    try {
      const make = (options: WireResolverOptions = {}) =>
        new WireResolver({ nameservers: [`127.0.0.1:${server.port}`], hosts: {}, timeout: 1000, attempts: 1, ...options }, driver);
      await body(server, make, driver);
    } finally {
      await server.close();
    }
  }
}

function sockets(): number {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith("socket:");
    } catch {
      return false; // closed while listing
    }
  }).length;
}

async function until(condition: () => boolean, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

describe("the wire resolver's UDP pool and DNS 0x20 (every loadable driver)", () => {
  it("300 queries go out from at most ceil(300/100)+1 source ports, none carrying more than 100", async () => {
    const perPort = new Map<number, number>();
    await withServer((query, _raw, remote) => {
      perPort.set(remote.port, (perPort.get(remote.port) ?? 0) + 1);
      return good(query);
    }, async (server, make) => {
      perPort.clear();
      const resolver = make({ cacheSize: 0 });
      const names = Array.from({ length: 300 }, (_, i) => `host${i}.test`);
      for (let i = 0; i < names.length; i += 25) {
        const batch = await Promise.all(names.slice(i, i + 25).map((name) => resolver.resolve(name, "ipv4")));
        for (const addresses of batch) assert.deepEqual(addresses, [GOOD]);
      }
      assert.equal(server.udpQueries, 300);
      assert.equal(resolver.stats.dropped, 0);
      // The socket active before this test may already have carried some queries: one more.
      assert.ok(perPort.size <= Math.ceil(300 / DEFAULT_MAX_QUERIES_PER_SOCKET) + 1, `${perPort.size} source ports`);
      assert.ok(Math.max(...perPort.values()) <= DEFAULT_MAX_QUERIES_PER_SOCKET, `per port: ${[...perPort.values()]}`);
    });
  });

  it("the maxQueriesPerSocket option: 60 queries with a limit of 10 use at least 6 source ports, none carrying more than 10; a bad value is invalid-argument", async () => {
    const perPort = new Map<number, number>();
    await withServer((query, _raw, remote) => {
      perPort.set(remote.port, (perPort.get(remote.port) ?? 0) + 1);
      return good(query);
    }, async (server, make) => {
      perPort.clear();
      const resolver = make({ cacheSize: 0, maxQueriesPerSocket: 10 });
      for (let i = 0; i < 60; i += 5) {
        const batch = await Promise.all(Array.from({ length: 5 }, (_, j) => resolver.resolve(`limit${i + j}.test`, "ipv4")));
        for (const addresses of batch) assert.deepEqual(addresses, [GOOD]);
      }
      assert.equal(server.udpQueries, 60);
      // The socket active before this test may carry up to the default limit: its port is left out.
      const counts = [...perPort.values()].sort((a, b) => a - b);
      assert.ok(counts.length >= 6, `${counts.length} source ports`);
      assert.ok(counts.slice(0, -1).every((count) => count <= 10), `per port: ${counts}`);
      for (const bad of [0, 65_536, 1.5]) {
        assert.throws(() => make({ maxQueriesPerSocket: bad }), (error: unknown) => (error as { code?: string }).code === "invalid-argument");
      }
    });
  });

  it("sockets are closed once idle (within twice the idle time, whatever the timeout)", async () => {
    await withServer((query) => good(query), async (_server, make, driver) => {
      // Every driver's earlier sockets close (their last close waits a macrotask), then count.
      const noneOpen = () => loadableDrivers().every((each) => openPoolSockets(each) === 0);
      assert.ok(await until(noneOpen, 3 * IDLE_CLOSE_MS), "earlier sockets close");
      await new Promise((resolve) => setTimeout(resolve, 50));
      const before = sockets();
      // A timeout well past the idle time: the socket still closes once idle, not at the deadline.
      const resolver = make({ cacheSize: 0, timeout: 5000 });
      await Promise.all(Array.from({ length: 10 }, (_, i) => resolver.resolve(`idle${i}.test`, "ipv4")));
      assert.equal(openPoolSockets(driver), 1);
      assert.equal(sockets(), before + 1);
      const start = Date.now();
      // At most `before`: a socket of an earlier test's server may finish closing meanwhile.
      assert.ok(await until(() => sockets() <= before && noneOpen(), 2 * IDLE_CLOSE_MS + 500), "closed when idle");
      assert.ok(Date.now() - start >= IDLE_CLOSE_MS / 2, "not closed at once");
    });
  });

  it("0x20: the server sees the question's letters in random case", async () => {
    const seen: string[] = [];
    await withServer((query) => {
      seen.push(questionName(query));
      return good(query);
    }, async (_server, make) => {
      seen.length = 0;
      const resolver = make({ cacheSize: 0 });
      for (let i = 0; i < 50; i++) assert.deepEqual(await resolver.resolve("abcdefghij.test", "ipv4"), [GOOD]);
      assert.equal(seen.length, 50);
      for (const name of seen) assert.equal(name.toLowerCase(), "abcdefghij.test");
      assert.ok(new Set(seen).size > 1, "not all in the same case");
      assert.ok(seen.some(hasUpper), "some upper case");
      assert.ok(seen.some((name) => /[a-z]/.test(name)), "some lower case");
      assert.equal(resolver.stats.dropped, 0);
    });
  });

  it("a reply in the wrong case is dropped, the query is asked again without 0x20, and that server gets no 0x20 afterwards", async () => {
    const seen: string[] = [];
    // A server that does not echo case: its question is always in the case the query was not.
    await withServer((query) => {
      seen.push(questionName(query));
      return { kind: "reply", packet: answer(query, [aRecord(query)], { questionName: swapCase(questionName(query)) }) };
    }, async (_server, make) => {
      seen.length = 0;
      const resolver = make({ cacheSize: 0 });
      assert.deepEqual(await resolver.resolve("nocaseecho.test", "ipv4"), [GOOD]);
      assert.equal(resolver.stats.dropped, 1);
      assert.equal(seen.length, 2);
      assert.ok(hasUpper(seen[0]), `first query with 0x20: ${seen[0]}`);
      assert.equal(seen[1], "nocaseecho.test");
      for (let i = 0; i < 10; i++) assert.deepEqual(await resolver.resolve("nocaseecho.test", "ipv4"), [GOOD]);
      assert.equal(seen.length, 12);
      for (const name of seen.slice(1)) assert.equal(name, "nocaseecho.test");
      assert.equal(resolver.stats.dropped, 1);
    });
  });

  it("forged replies (wrong case, wrong ID, wrong source) are never accepted nor cached", async () => {
    const forged = (query: Query, overrides: Parameters<typeof answer>[2]): dnsPacket.Packet =>
      answer(query, [aRecord(query, FORGED)], overrides);
    // Wrong case: sent to the 0x20 queries only (a forger who got the ID but not the case); the
    // resolver then asks again without 0x20 and gets the server's answer.
    await withServer((query) => ({
      kind: "many",
      actions: hasUpper(questionName(query))
        ? [{ kind: "reply", packet: forged(query, { questionName: swapCase(questionName(query)) }) }, good(query, 30)]
        : [good(query)],
    }), async (_server, make) => {
      const resolver = make();
      assert.deepEqual(await resolver.resolve("poisoncheck.test", "ipv4"), [GOOD]);
      assert.ok(resolver.stats.dropped >= 1);
      const asked = resolver.stats.udpQueries;
      assert.deepEqual(await resolver.resolve("poisoncheck.test", "ipv4"), [GOOD]);
      assert.equal(resolver.stats.udpQueries, asked, "answered from the cache");
    });
    // Wrong ID and wrong source, before the real answer.
    await withServer((query) => ({
      kind: "many",
      actions: [
        { kind: "reply", packet: forged(query, { id: ((query.id ?? 0) + 1) & 0xffff }) },
        { kind: "from-other-port", packet: forged(query, {}) },
        good(query, 50),
      ],
    }), async (_server, make) => {
      const resolver = make();
      assert.deepEqual(await resolver.resolve("poisoncheck.test", "ipv4"), [GOOD]);
      // The wrong ID counts too, unless it is one the shared socket used before (a late reply: ignored).
      assert.ok(resolver.stats.dropped >= 1 && resolver.stats.dropped <= 2, `dropped ${resolver.stats.dropped}`);
      assert.deepEqual(await resolver.resolve("poisoncheck.test", "ipv4"), [GOOD]);
      assert.equal(resolver.stats.udpQueries, 1, "answered from the cache");
    });
  });
});

/** What decoding gave: the response, or the code it was refused with. */
function outcome(decode: () => unknown): unknown {
  try {
    return decode();
  } catch (error) {
    if (error instanceof SocketError) return { refused: error.code };
    throw error;
  }
}

describe("the fast decode path", () => {
  it("gives what dns-packet gives, on common replies and on 30000 hostile ones", () => {
    const opt = { type: "OPT", name: ".", udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] } as const;
    const soaRecord = { type: "SOA", name: "TeSt", ttl: 300, data: { mname: "ns.test", rname: "h.test", serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 60 } } as const;
    const common = [
      { type: "response", id: 1, flags: 0x8180, questions: [{ type: "A", name: "A.TeSt" }], answers: [{ type: "A", name: "A.TeSt", ttl: 5, data: "203.0.113.10" }], additionals: [opt] },
      { type: "response", id: 2, flags: 0x8180, questions: [{ type: "AAAA", name: "a.test" }], answers: [{ type: "AAAA", name: "a.test", ttl: 0x80000000, data: "2001:db8::10" }, { type: "AAAA", name: "a.test", ttl: 1, data: "::" }, { type: "AAAA", name: "a.test", ttl: 1, data: "::ffff:1.2.3.4" }, { type: "AAAA", name: "a.test", ttl: 1, data: "1:0:0:1:0:0:0:1" }], additionals: [opt] },
      { type: "response", id: 3, flags: 0x8183, questions: [{ type: "A", name: "gone.test" }], authorities: [soaRecord], additionals: [opt] },
      { type: "response", id: 4, flags: 0x8380, questions: [{ type: "A", name: "c.test" }], answers: [{ type: "CNAME", name: "c.test", ttl: 9, data: "D.test" }, { type: "A", name: "d.test", ttl: 7, data: "192.0.2.1" }, { type: "A", name: "d.test", ttl: 7, class: "CH", data: "192.0.2.2" }], authorities: [soaRecord] },
      { type: "response", id: 5, flags: 0x8182, questions: [{ type: "AAAA", name: "x.test" }] },
    ].map((packet) => Uint8Array.from(dnsPacketCodec.encode(packet as dnsPacketCodec.Packet)));
    const cases = [...common, ...hostileReplies([...common, ...fuzzBases()], 30_000, 0x20)];
    let fast = 0;
    for (const bytes of cases) {
      const expected = outcome(() => decodeResponseWithDnsPacket(bytes, "x.test"));
      assert.deepEqual(outcome(() => decodeResponse(bytes, "x.test")), expected);
      if (!(expected as { refused?: string }).refused) fast++;
    }
    for (const bytes of common) assert.ok(!("refused" in (outcome(() => decodeResponse(bytes, "x.test")) as object)));
    assert.ok(fast > 1000, `${fast} decoded`);
  });
});
