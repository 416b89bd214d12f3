import assert from "node:assert/strict";
import { readdirSync, readlinkSync } from "node:fs";
import { describe, it } from "node:test";
import dnsPacket from "dns-packet";
import { loadableDrivers } from "../network/ambient.ts";
import { WireResolver } from "../resolve/wire/wire_resolver.ts";
import type { WireResolverOptions } from "../resolve/wire/options.ts";
import { rejectsWith } from "./helpers.ts";
import { answer, startFaultDns } from "./peers/fault_dns.ts";
import type { FaultAction, FaultDns } from "./peers/fault_dns.ts";
import { frameForTcp } from "../resolve/wire/packet.ts";
import { Network } from "../network/network.ts";
import { ALLOW_ALL } from "../network/policy.ts";


type Query = dnsPacket.DecodedPacket;

const aRecord = (query: Query, data = "203.0.113.20", ttl = 60): dnsPacket.StringAnswer => ({
  type: "A",
  name: query.questions?.[0]?.name ?? "",
  ttl,
  data,
});
const soa = (ttl: number, minimum: number): dnsPacket.Answer => ({
  type: "SOA",
  name: "test",
  ttl,
  data: { mname: "ns.test", rname: "hostmaster.test", serial: 1, refresh: 60, retry: 60, expire: 60, minimum },
});
const good = (query: Query): FaultAction => ({ kind: "reply", packet: answer(query, [aRecord(query)]) });

async function withServer(
  udp: (query: Query, raw: Uint8Array) => FaultAction,
  body: (server: FaultDns, make: (options?: WireResolverOptions) => WireResolver) => Promise<void>,
  tcp?: (query: Query, raw: Uint8Array) => FaultAction,
): Promise<void> {
  for (const driver of loadableDrivers()) {
    const server = await startFaultDns({ udp, tcp });
    try {
      const make = (options: WireResolverOptions = {}) =>
        new WireResolver({ nameservers: [`127.0.0.1:${server.port}`], hosts: {}, timeout: 300, attempts: 1, ...options }, driver);
      await body(server, make);
    } finally {
      await server.close();
    }
  }
}

describe("WireResolver against a misbehaving server (every loadable driver)", () => {
  it("drops a reply with the wrong ID and keeps waiting for the real one", async () => {
    await withServer((query) => ({
      kind: "many",
      actions: [{ kind: "reply", packet: answer(query, [aRecord(query, "203.0.113.66")], { id: ((query.id ?? 0) + 1) & 0xffff }) }, good(query)],
    }), async (_server, make) => {
      const resolver = make();
      assert.deepEqual(await resolver.resolve("spoof.test", "ipv4"), ["203.0.113.20"]);
      assert.equal(resolver.stats.dropped, 1);
    });
  });

  it("datagrams after the answer are neither used nor counted as dropped, and no socket is left beyond the pool's", async () => {
    const sockets = (): number => readdirSync("/proc/self/fd").filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith("socket:");
      } catch {
        return false; // closed while listing
      }
    }).length;
    const forged = (query: Query): FaultAction => ({
      kind: "reply",
      packet: answer(query, [aRecord(query, "203.0.113.66")], { id: ((query.id ?? 0) + 1) & 0xffff }),
    });
    await withServer((query) => ({ kind: "many", actions: [good(query), forged(query), good(query)] }), async (_server, make) => {
      const resolver = make();
      await new Promise((resolve) => setTimeout(resolve, 50)); // the sockets of earlier tests' queries close
      const before = sockets();
      assert.deepEqual(await resolver.resolve("twice.test", "ipv4"), ["203.0.113.20"]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(resolver.stats.dropped, 0);
      assert.equal(resolver.stats.udpQueries, 1);
      // The query went out on the pool's socket (open before, or opened for it and kept
      // for the next queries): at most one more socket, none per datagram.
      assert.ok(sockets() <= before + 1, `${sockets()} sockets, ${before} before`);
    });
  });

  it("drops a reply to another question", async () => {
    await withServer((query) => ({
      kind: "many",
      actions: [{ kind: "reply", packet: answer(query, [aRecord(query, "203.0.113.66")], { questionName: "other.test" }) }, good(query)],
    }), async (_server, make) => {
      const resolver = make();
      assert.deepEqual(await resolver.resolve("asked.test", "ipv4"), ["203.0.113.20"]);
      assert.equal(resolver.stats.dropped, 1);
    });
  });

  it("drops a reply from another port", async () => {
    await withServer((query) => ({
      kind: "many",
      actions: [{ kind: "from-other-port", packet: answer(query, [aRecord(query, "203.0.113.66")]) }, { kind: "reply", packet: answer(query, [aRecord(query)]), delayMs: 50 }],
    }), async (_server, make) => {
      const resolver = make();
      assert.deepEqual(await resolver.resolve("port.test", "ipv4"), ["203.0.113.20"]);
      // Counted where the socket sees it; a connected socket (Node, Bun) never does: the kernel drops it.
      assert.ok(resolver.stats.dropped <= 1, `dropped ${resolver.stats.dropped}`);
    });
  });

  it("only forged replies: times out with temporary-resolver-failure", async () => {
    await withServer((query) => ({ kind: "reply", packet: answer(query, [aRecord(query)], { id: ((query.id ?? 0) + 7) & 0xffff }) }), async (_server, make) => {
      await rejectsWith(make().resolve("forged.test", "ipv4"), "temporary-resolver-failure");
    });
  });

  it("truncated bytes with our ID → permanent-resolver-failure", async () => {
    await withServer((query) => {
      const bytes = dnsPacket.encode(answer(query, [aRecord(query)]));
      return { kind: "raw", bytes: bytes.subarray(0, bytes.length - 3) };
    }, async (_server, make) => {
      await rejectsWith(make().resolve("cut.test", "ipv4"), "permanent-resolver-failure");
    });
  });

  it("a compression loop with our ID → permanent-resolver-failure", async () => {
    await withServer((query) => {
      const bytes = dnsPacket.encode(answer(query, [aRecord(query)]));
      const loop = Uint8Array.from(bytes);
      // Point the answer's owner name at itself.
      const at = bytes.length - 16 - 0; // A record: name(2) type(2) class(2) ttl(4) rdlength(2) rdata(4)
      loop[at] = 0xc0 | ((at >> 8) & 0x3f);
      loop[at + 1] = at & 0xff;
      return { kind: "raw", bytes: loop };
    }, async (_server, make) => {
      await rejectsWith(make().resolve("loop.test", "ipv4"), "permanent-resolver-failure");
    });
  });

  it("a server slower than the timeout → temporary-resolver-failure; a retry that gets an answer succeeds", async () => {
    await withServer((query) => ({ kind: "reply", packet: answer(query, [aRecord(query)]), delayMs: 2000 }), async (_server, make) => {
      await rejectsWith(make({ timeout: 100 }).resolve("slow.test", "ipv4"), "temporary-resolver-failure");
    });
    let asked = 0;
    await withServer((query) => (asked++ === 0 ? { kind: "drop" } : good(query)), async (server, make) => {
      const resolver = make({ timeout: 150, attempts: 2 });
      assert.deepEqual(await resolver.resolve("retry.test", "ipv4"), ["203.0.113.20"]);
      assert.equal(server.udpQueries, 2);
      asked = 0;
    });
  });

  for (const [rcode, code] of [["SERVFAIL", "temporary-resolver-failure"], ["REFUSED", "permanent-resolver-failure"], ["NOTIMP", "permanent-resolver-failure"], ["FORMERR", "permanent-resolver-failure"]]) {
    it(`${rcode} → ${code}`, async () => {
      await withServer((query) => ({ kind: "reply", packet: answer(query, [], { rcode }) }), async (_server, make) => {
        const error = await rejectsWith(make().resolve("rcode.test", "ipv4"), code);
        assert.match(error.message, /resolve rcode\.test/);
      });
    });
  }

  it("a truncated UDP answer is asked again over TCP", async () => {
    await withServer(
      (query) => ({ kind: "reply", packet: answer(query, [aRecord(query)], { truncated: true }) }),
      async (server, make) => {
        const resolver = make();
        assert.deepEqual(await resolver.resolve("big.test", "ipv4"), ["203.0.113.21", "203.0.113.22"]);
        assert.equal(server.tcpQueries, 1);
      },
      (query) => ({ kind: "raw", bytes: frameForTcp(dnsPacket.encode(answer(query, [aRecord(query, "203.0.113.21"), aRecord(query, "203.0.113.22")]))) }),
    );
  });

  it("negative answers are cached for min(SOA TTL, SOA minimum), then asked again", async () => {
    await withServer((query) => ({ kind: "reply", packet: answer(query, [], { rcode: "NXDOMAIN", authorities: [soa(300, 1)] }) }), async (server, make) => {
      const resolver = make();
      assert.deepEqual(await resolver.resolve("gone.test", "ipv4"), []);
      assert.deepEqual(await resolver.resolve("gone.test", "ipv4"), []);
      assert.equal(server.udpQueries, 1);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      assert.deepEqual(await resolver.resolve("gone.test", "ipv4"), []);
      assert.equal(server.udpQueries, 2);
    });
  });

  it("positive answers are cached for their lowest TTL (also through resolveAddresses), then asked again", async () => {
    await withServer((query) => ({ kind: "reply", packet: answer(query, [aRecord(query, "203.0.113.20", 1), aRecord(query, "203.0.113.30", 60)]) }), async (server, make) => {
      const resolver = make();
      const net = new Network(loadableDrivers()[0], ALLOW_ALL);
      assert.deepEqual(await net.resolveAddresses("ttl.test", { resolver, family: "ipv4" }), ["203.0.113.20", "203.0.113.30"]);
      assert.deepEqual(await net.resolveAddresses("ttl.test", { resolver, family: "ipv4" }), ["203.0.113.20", "203.0.113.30"]);
      assert.equal(server.udpQueries, 1);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      assert.deepEqual(await net.resolveAddresses("ttl.test", { resolver, family: "ipv4" }), ["203.0.113.20", "203.0.113.30"]);
      assert.equal(server.udpQueries, 2);
    });
  });

  it("a CNAME loop is bounded", async () => {
    await withServer((query) => ({
      kind: "reply",
      packet: answer(query, [{ type: "CNAME", name: query.questions?.[0]?.name ?? "", ttl: 60, data: `x${query.questions?.[0]?.name}` }]),
    }), async (_server, make) => {
      await rejectsWith(make().resolve("c.test", "ipv4"), "permanent-resolver-failure");
    });
  });

  it("a caller's abort rejects with its reason", async () => {
    await withServer(() => ({ kind: "drop" }), async (_server, make) => {
      const reason = new Error("enough");
      const controller = new AbortController();
      const pending = make({ timeout: 1000 }).resolve("wait.test", "ipv4", controller.signal);
      setTimeout(() => controller.abort(reason), 50);
      await assert.rejects(pending, (error) => error === reason);
    });
  });
});
