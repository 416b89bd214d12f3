import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { WireResolver } from "../resolve/wire/wire_resolver.ts";
import { loadableDrivers } from "../network/ambient.ts";
import { networks, rejectsWith } from "./helpers.ts";
import { startDnsmasq } from "./peers/dnsmasq.ts";
import type { Dnsmasq } from "./peers/dnsmasq.ts";

let dns: Dnsmasq;
describe("wire resolver against a real dnsmasq", () => {
  before(async () => {
    dns = await startDnsmasq();
  });
  after(async () => {
    await dns?.stop();
  });

  for (const { name, net } of networks()) {
    describe(`WireResolver against dnsmasq (${name} driver)`, () => {
      const make = (options: ConstructorParameters<typeof WireResolver>[0] = {}) =>
        new WireResolver({ nameservers: [dns.server], hosts: {}, timeout: 1000, attempts: 2, ...options }, driverOf(name));

      it("asks A and AAAA and gives IPv6 first", async () => {
        const resolver = make();
        assert.deepEqual(await net.resolveAddresses("a.test", { resolver }), ["2001:db8::10", "203.0.113.10"]);
        assert.deepEqual(await net.resolveAddresses("A.Test.", { resolver, family: "ipv4" }), ["203.0.113.10"]);
        assert.deepEqual(await net.resolveAddresses("a.test", { resolver, family: "ipv6" }), ["2001:db8::10"]);
        assert.equal(resolver.stats.udpQueries, 2, "A and AAAA asked once each, then cached");
      });

      it("NODATA for one family gives the other; for every family asked, name-unresolvable", async () => {
        const resolver = make();
        assert.deepEqual(await net.resolveAddresses("v4only.test", { resolver }), ["203.0.113.11"]);
        assert.deepEqual(await net.resolveAddresses("v6only.test", { resolver }), ["2001:db8::12"]);
        await rejectsWith(net.resolveAddresses("v4only.test", { resolver, family: "ipv6" }), "name-unresolvable");
      });

      it("follows a CNAME chain", async () => {
        const resolver = make();
        assert.deepEqual(await net.resolveAddresses("alias1.test", { resolver }), ["2001:db8::10", "203.0.113.10"]);
      });

      it("moves to TCP when the UDP answer is truncated (100 A records)", async () => {
        const resolver = make();
        const addresses = await net.resolveAddresses("many.test", { resolver, family: "ipv4" });
        assert.equal(addresses.length, 100);
        assert.ok(addresses.every((address) => address.startsWith("198.51.100.")));
        assert.equal(resolver.stats.tcpQueries, 1);
      });

      it("NXDOMAIN → name-unresolvable, cached by the SOA (no second query)", async () => {
        const resolver = make();
        await rejectsWith(net.resolveAddresses("nope.test", { resolver }), "name-unresolvable");
        const asked = resolver.stats.udpQueries;
        await rejectsWith(net.resolveAddresses("nope.test", { resolver }), "name-unresolvable");
        assert.equal(resolver.stats.udpQueries, asked);
        resolver.clearCache();
        await rejectsWith(net.resolveAddresses("nope.test", { resolver }), "name-unresolvable");
        assert.equal(resolver.stats.udpQueries, asked * 2);
      });

      it("two callers of the same name share one query", async () => {
        const resolver = make();
        const [first, second] = await Promise.all([
          net.resolveAddresses("a.test", { resolver }),
          net.resolveAddresses("a.test", { resolver }),
        ]);
        assert.deepEqual(first, second);
        assert.equal(resolver.stats.udpQueries, 2);
      });

      it("a cache of size 0 asks every time", async () => {
        const resolver = make({ cacheSize: 0 });
        await net.resolveAddresses("a.test", { resolver });
        await net.resolveAddresses("a.test", { resolver });
        assert.equal(resolver.stats.udpQueries, 4);
      });

      it("uses the search list for names with fewer dots than ndots", async () => {
        const resolver = make({ search: ["test"], ndots: 1 });
        assert.deepEqual(await net.resolveAddresses("a", { resolver, family: "ipv4" }), ["203.0.113.10"]);
      });

      it("answers from the hosts option and from a hosts file, without a query", async () => {
        const fromTable = make({ hosts: { "db.internal": ["203.0.113.5", "2001:db8::5"] } });
        assert.deepEqual(await net.resolveAddresses("DB.internal", { resolver: fromTable }), ["2001:db8::5", "203.0.113.5"]);
        const dir = mkdtempSync(join(tmpdir(), "unisock-hosts-"));
        try {
          writeFileSync(join(dir, "hosts"), "# test\n203.0.113.6 files.internal alias.internal\n");
          const fromFile = make({ hosts: join(dir, "hosts") });
          assert.deepEqual(await net.resolveAddresses("alias.internal", { resolver: fromFile }), ["203.0.113.6"]);
          assert.equal(fromTable.stats.udpQueries + fromFile.stats.udpQueries, 0);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });

      it("rejects bad options with invalid-argument", async () => {
        for (const options of [{ nameservers: ["nowhere"] }, { nameservers: [] }, { timeout: -1 }, { ndots: 99 }, { hosts: { "x.test": ["127.1"] } }]) {
          await rejectsWith(async () => {
            const resolver = new WireResolver(options as ConstructorParameters<typeof WireResolver>[0]);
            await resolver.resolve("x.test", "any");
          }, "invalid-argument");
        }
      });
    });
  }
});

function driverOf(name: string) {
  const driver = loadableDrivers().find((d) => d.name === name);
  if (driver === undefined) throw new Error(`no driver ${name}`);
  return driver;
}
