import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { loadableDrivers } from "../network/ambient.ts";
import type { Driver } from "../core/driver.ts";
import { socketError } from "../core/errors.ts";
import { Network } from "../network/network.ts";
import { ALLOW_ALL } from "../network/policy.ts";
import { lookupHosts, parseHostsFile } from "../resolve/wire/hosts.ts";
import { orderAddresses } from "../resolve/order.ts";
import { WireResolver } from "../resolve/wire/wire_resolver.ts";
import { rejectsWith } from "./helpers.ts";
import { startDnsmasq } from "./peers/dnsmasq.ts";
import type { Dnsmasq } from "./peers/dnsmasq.ts";

// Names the image's /etc/hosts already has (besides localhost, which never queries):
// every runtime's system resolver must give their addresses, Deno's `resolveDns` included.
const hosts = parseHostsFile(readFileSync("/etc/hosts", "utf8"));
const hostNames = [...hosts.keys()].filter((name) => name !== "localhost" && !name.endsWith(".localhost"));

let dns: Dnsmasq;
describe("system resolver, with a real dnsmasq for the fallback", () => {
  before(async () => {
    dns = await startDnsmasq();
  });
  after(async () => {
    await dns?.stop();
  });

  /** A driver whose system lookup fails as `code`, for the fallback seam. */
  function brokenLookup(driver: Driver, code: "temporary-resolver-failure" | "name-unresolvable", calls: string[]): Driver {
    return {
      ...driver,
      lookup: (name) => {
        calls.push(name);
        return Promise.reject(socketError(code, "resolve", name, "injected"));
      },
    };
  }

  for (const driver of loadableDrivers()) {
    describe(`system resolver (${driver.name} driver)`, () => {
      it("answers names from /etc/hosts like every other runtime", async () => {
        assert.ok(hostNames.length > 0, "/etc/hosts names no host besides localhost; this image always has one");
        const net = new Network(driver, ALLOW_ALL);
        for (const name of hostNames) {
          const expected = orderAddresses(lookupHosts(hosts, name, "ipv4"), "ipv4");
          if (expected.length === 0) continue;
          assert.deepEqual(await net.resolveAddresses(name, { family: "ipv4" }), expected, name);
        }
      });

      it("falls back to the wire resolver when the system resolver is broken", async () => {
        const calls: string[] = [];
        const fallback = new WireResolver({ nameservers: [dns.server], hosts: {}, timeout: 1000 }, driver);
        const net = new Network(brokenLookup(driver, "temporary-resolver-failure", calls), ALLOW_ALL, fallback);
        assert.deepEqual(await net.resolveAddresses("a.test"), ["2001:db8::10", "203.0.113.10"]);
        assert.deepEqual(calls, ["a.test"]);
        assert.equal(fallback.stats.udpQueries, 2);
      });

      it("does not fall back when the name itself does not resolve", async () => {
        const calls: string[] = [];
        const fallback = new WireResolver({ nameservers: [dns.server], hosts: {}, timeout: 1000 }, driver);
        const net = new Network(brokenLookup(driver, "name-unresolvable", calls), ALLOW_ALL, fallback);
        await rejectsWith(net.resolveAddresses("a.test"), "name-unresolvable");
        assert.equal(fallback.stats.udpQueries, 0);
      });

      it(`resolver: "wire" uses the network's wire resolver`, async () => {
        const wire = new WireResolver({ nameservers: [dns.server], hosts: {}, timeout: 1000 }, driver);
        const net = new Network(driver, ALLOW_ALL, wire);
        assert.deepEqual(await net.resolveAddresses("v4only.test", { resolver: "wire" }), ["203.0.113.11"]);
      });
    });
  }
});
