/**
 * The wire resolver's UDP socket pool and DNS 0x20, against the fault-injecting server:
 * few sockets on random ports each carrying at most 100 queries, closed when idle; the
 * question in random case; a reply in the wrong case dropped and the query asked again
 * without 0x20; forged replies never cached.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { readdirSync, readlinkSync } from "node:fs";
import { describe, it } from "node:test";
import type dnsPacket from "dns-packet";
import { loadableDrivers } from "../network/ambient.ts";
import type { Datagram, Driver } from "../core/driver.ts";
import { WireResolver } from "../resolve/wire/wire_resolver.ts";
import type { WireResolverOptions } from "../resolve/wire/options.ts";
import { DEFAULT_MAX_QUERIES_PER_SOCKET, IDLE_CLOSE_MS, openPoolSockets } from "../resolve/wire/udp_pool.ts";
import { decodeResponse, decodeResponseWithDnsPacket } from "../resolve/wire/packet.ts";
import { SocketError } from "../core/errors.ts";
import dnsPacketCodec from "dns-packet";
import { answer, startFaultDns, swapCase } from "./peers/fault_dns.ts";
import { within } from "./helpers.ts";
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

/** A node:dgram socket bound on `host`, for the tests to send from and receive on. */
async function dgramSocket(host = "127.0.0.1"): Promise<dgram.Socket> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, host, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  return socket;
}

function sendFrom(socket: dgram.Socket, bytes: Uint8Array, port: number, address = "127.0.0.1"): Promise<void> {
  return new Promise((resolve, reject) => socket.send(bytes, port, address, (error) => (error ? reject(error) : resolve())));
}

/** Whether `driver` connects its UDP sockets (Deno's `Deno.listenDatagram`, with --unstable-net, cannot). */
function connects(driver: Driver): boolean {
  const deno = (globalThis as { Deno?: { listenDatagram?: unknown } }).Deno;
  return !(driver.name === "deno" && typeof deno?.listenDatagram === "function");
}

describe("connected UDP sockets (every loadable driver)", () => {
  it("a socket bound with connect sends to its peer and receives only its peer's datagrams", async () => {
    for (const driver of loadableDrivers()) {
      const peer = await dgramSocket();
      const stranger = await dgramSocket();
      const received: Datagram[] = [];
      let wake: () => void = () => {};
      const raw = await driver.udpBind({
        address: "0.0.0.0",
        port: 0,
        family: "ipv4",
        reuseAddress: false,
        ipv6Only: false,
        connect: { address: "127.0.0.1", port: peer.address().port },
      }, {
        message: (datagram) => {
          received.push(datagram);
          if (datagram.port === peer.address().port) wake();
        },
        error: () => {},
      });
      try {
        if (connects(driver)) assert.deepEqual(raw.remoteAddress, { address: "127.0.0.1", port: peer.address().port, family: "ipv4" }, driver.name);
        else assert.equal(raw.remoteAddress, undefined, `${driver.name}: Deno.listenDatagram cannot connect, and says so`);
        const atPeer = new Promise<dgram.RemoteInfo>((resolve) => peer.once("message", (_data, remote) => resolve(remote)));
        await raw.send(Uint8Array.of(1, 2, 3), "127.0.0.1", peer.address().port);
        const from = await within(atPeer, "the datagram at the peer");
        assert.equal(from.port, raw.localAddress.port, driver.name);
        // A stranger's datagram first, then the peer's: only the peer's arrives (on an
        // unconnected socket both do; the pool checks the source itself there).
        await sendFrom(stranger, Uint8Array.of(66), raw.localAddress.port);
        const arrived = new Promise<void>((resolve) => (wake = resolve));
        await sendFrom(peer, Uint8Array.of(7), raw.localAddress.port);
        await within(arrived, "the peer's datagram");
        const fromPeer = received.filter((datagram) => datagram.port === peer.address().port);
        assert.equal(fromPeer.length, 1, driver.name);
        assert.deepEqual([...fromPeer[0].data], [7]);
        if (connects(driver)) assert.equal(received.length, 1, `${driver.name}: the stranger's datagram was delivered`);
      } finally {
        raw.close();
        peer.close();
        stranger.close();
      }
    }
  });

  it("the pool keeps sockets per server: two servers never share a source port, one socket each", async () => {
    const portsOf = [new Set<number>(), new Set<number>()];
    const servers: FaultDns[] = [];
    try {
      for (const ports of portsOf) {
        servers.push(await startFaultDns({
          udp: (query, _raw, remote) => {
            ports.add(remote.port);
            return good(query);
          },
        }));
      }
      for (const driver of loadableDrivers()) {
        for (const ports of portsOf) ports.clear();
        const resolvers = servers.map((server) =>
          new WireResolver({ nameservers: [`127.0.0.1:${server.port}`], hosts: {}, timeout: 1000, attempts: 1, cacheSize: 0 }, driver)
        );
        const answers = await Promise.all(
          Array.from({ length: 20 }, (_, i) => resolvers[i % 2].resolve(`perserver${i}.test`, "ipv4")),
        );
        for (const addresses of answers) assert.deepEqual(addresses, [GOOD]);
        for (const [i, server] of servers.entries()) {
          assert.equal(openPoolSockets(driver, { address: "127.0.0.1", port: server.port }), 1, `${driver.name}: server ${i}`);
        }
        assert.ok(portsOf[0].size >= 1 && portsOf[1].size >= 1);
        for (const port of portsOf[0]) assert.ok(!portsOf[1].has(port), `${driver.name}: port ${port} used for both servers`);
      }
    } finally {
      for (const server of servers) await server.close();
    }
  });

  it("half way through its limit the next socket is bound ahead; unused, it closes once idle too", async () => {
    await withServer((query) => good(query), async (server, make, driver) => {
      const resolver = make({ cacheSize: 0, maxQueriesPerSocket: 10 });
      const self = { address: "127.0.0.1", port: server.port };
      for (let i = 0; i < 4; i++) assert.deepEqual(await resolver.resolve(`ahead${i}.test`, "ipv4"), [GOOD]);
      assert.equal(openPoolSockets(driver, self), 1);
      assert.deepEqual(await resolver.resolve("ahead4.test", "ipv4"), [GOOD]);
      assert.equal(openPoolSockets(driver, self), 2, "the socket to take over is open");
      assert.ok(await until(() => openPoolSockets(driver, self) === 0, 3 * IDLE_CLOSE_MS), "both closed when idle");
    });
  });

  it("a perfect forgery (our ID, our question in our case) from another address or port is never accepted", async () => {
    const forgers = [await dgramSocket("127.0.0.2"), await dgramSocket("127.0.0.1")];
    try {
      await withServer((query, _raw, remote) => {
        // The forgery leaves before the server's own answer, 50 ms later.
        const forged = Uint8Array.from(dnsPacketCodec.encode(answer(query, [aRecord(query, FORGED)])));
        for (const forger of forgers) forger.send(forged, remote.port, "127.0.0.1");
        return good(query, 50);
      }, async (_server, make) => {
        const resolver = make();
        for (let i = 0; i < 3; i++) assert.deepEqual(await resolver.resolve(`forgery${i}.test`, "ipv4"), [GOOD]);
      });
    } finally {
      for (const forger of forgers) forger.close();
    }
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

/** A driver whose UDP binds fail (as when out of file descriptors) while `failing` is set, and the binds it was asked for. */
type FlakyBinds = { readonly driver: Driver; tried: number; bound: number; failing: boolean };

/** Wraps `driver`: while `failing`, every bind fails, one in two by throwing at once, the others by rejecting. */
function flakyBinds(driver: Driver): FlakyBinds {
  const flaky: FlakyBinds = {
    driver: {
      ...driver,
      udpBind: (request, sink) => {
        flaky.tried++;
        if (!flaky.failing) {
          return driver.udpBind(request, sink).then((raw) => {
            flaky.bound++;
            return raw;
          });
        }
        const error = Object.assign(new Error("EMFILE: too many open files (injected)"), { code: "EMFILE" });
        if (flaky.tried % 2 === 0) throw error;
        return Promise.reject(error);
      },
    },
    tried: 0,
    bound: 0,
    failing: false,
  };
  return flaky;
}

describe("a socket that cannot be bound (every loadable driver, binds failing on purpose)", () => {
  it("a spare that fails to bind is tried again only after a backoff, the active socket carries on, and the spare comes back once binds work", async () => {
    const ports = new Set<number>();
    await withServer((query, _raw, remote) => {
      ports.add(remote.port);
      return good(query);
    }, async (server, _make, driver) => {
      ports.clear();
      const flaky = flakyBinds(driver);
      const flakyResolver = new WireResolver({ nameservers: [`127.0.0.1:${server.port}`], hosts: {}, timeout: 1000, attempts: 1, cacheSize: 0, maxQueriesPerSocket: 200 }, flaky.driver);
      const self = { address: "127.0.0.1", port: server.port };
      const ask = async (i: number): Promise<void> => assert.deepEqual(await within(flakyResolver.resolve(`spare${i}.test`, "ipv4"), `spare${i}.test`), [GOOD]);
      // 99 queries at once: the first binds the active socket, and none reaches half way (100).
      await Promise.all(Array.from({ length: 99 }, (_, i) => ask(i)));
      assert.deepEqual([flaky.tried, flaky.bound], [1, 1], driver.name);
      flaky.failing = true;
      // 60 queries one after another past half way: without a backoff each would try to bind a spare.
      for (let i = 99; i < 159; i++) await ask(i);
      const tried = flaky.tried - 1;
      // 50 ms doubling up to 2 s: 10 tries take over 9 s, far more than 60 queries on loopback.
      assert.ok(tried >= 1 && tried <= 10, `${driver.name}: ${tried} binds tried for 60 queries`);
      assert.equal(openPoolSockets(flaky.driver, self), 1, `${driver.name}: only the active socket`);
      assert.equal(ports.size, 1, `${driver.name}: every query on the active socket`);
      assert.equal(flakyResolver.stats.dropped, 0);
      // Binds work again: within the longest backoff (2 s) a query makes the spare, a query each 100 ms.
      flaky.failing = false;
      let next = 159;
      while (flaky.tried === tried + 1 && next < 199) {
        await ask(next++);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(await until(() => flaky.bound === 2, 1000), `${driver.name}: the spare is bound (${flaky.tried} tries, ${flaky.bound} bound)`);
      assert.equal(openPoolSockets(flaky.driver, self), 2, `${driver.name}: the active socket and the spare`);
      // Up to the limit and one more: the next query goes on the spare, with no bind of its own.
      const triedBefore = flaky.tried;
      while (next < 201) await ask(next++);
      assert.equal(flaky.tried, triedBefore, driver.name);
      assert.equal(ports.size, 2, `${driver.name}: the spare took over`);
      assert.ok(await until(() => openPoolSockets(flaky.driver) === 0, 3 * IDLE_CLOSE_MS), `${driver.name}: closed when idle`);
    });
  });

  it("when the active socket retires and no new one can be bound, its query fails at once with a SocketError; once binds work the next one succeeds", async () => {
    await withServer((query) => good(query), async (server, _make, driver) => {
      const flaky = flakyBinds(driver);
      const resolver = new WireResolver({ nameservers: [`127.0.0.1:${server.port}`], hosts: {}, timeout: 1000, attempts: 1, cacheSize: 0, maxQueriesPerSocket: 10 }, flaky.driver);
      const ask = (name: string): Promise<string[]> => within(resolver.resolve(name, "ipv4"), `${driver.name}: ${name}`);
      for (let i = 0; i < 4; i++) assert.deepEqual(await ask(`retire${i}.test`), [GOOD]);
      flaky.failing = true;
      // The 5th tries a spare (it fails); the 10th retires the active socket. All are answered.
      for (let i = 4; i < 10; i++) assert.deepEqual(await ask(`retire${i}.test`), [GOOD]);
      const failure = await ask("retire10.test").then(() => undefined, (error: unknown) => error);
      assert.ok(failure instanceof SocketError, `${driver.name}: ${failure}`);
      assert.equal(failure.code, "temporary-resolver-failure", driver.name);
      assert.match(failure.message, /EMFILE/, driver.name);
      flaky.failing = false;
      assert.deepEqual(await ask("retire11.test"), [GOOD]);
      assert.ok(await until(() => openPoolSockets(flaky.driver) === 0, 3 * IDLE_CLOSE_MS), `${driver.name}: closed when idle`);
    });
  });
});
