import assert from "node:assert/strict";
import { describe, it } from "node:test";
import ipaddr from "ipaddr.js";
import { formatSocketAddress, parseIp } from "../core/address.ts";
import { plainIpv6 } from "../core/ipv6_text.ts";
import { codeFromErrno } from "../core/errno.ts";
import { SOCKET_ERROR_CODES, SocketError, socketError } from "../core/errors.ts";
import { orderAddresses } from "../resolve/order.ts";
import { normalizeName } from "../resolve/names.ts";
import { networks, rejectsWith } from "./helpers.ts";

describe("addresses", () => {
  it("canonicalises IP literals with ipaddr.js", () => {
    assert.deepEqual(parseIp("127.0.0.1"), { address: "127.0.0.1", family: "ipv4" });
    assert.deepEqual(parseIp("2001:0DB8:0000::0001"), { address: "2001:db8::1", family: "ipv6" });
    assert.deepEqual(parseIp("[::1]"), { address: "::1", family: "ipv6" });
    assert.deepEqual(parseIp("::ffff:127.0.0.1"), { address: "::ffff:127.0.0.1", family: "ipv6" });
    assert.deepEqual(parseIp("fe80::1%eth0"), { address: "fe80::1%eth0", family: "ipv6" });
    assert.deepEqual(parseIp("2001:db8::1%eth0"), { address: "2001:db8::1", family: "ipv6" });
  });

  it("refuses other IPv4 spellings and names", () => {
    for (const text of ["127.1", "0x7f.0.0.1", "2130706433", "017.0.0.1", "example.com", "", "1.2.3.4.5"]) {
      assert.equal(parseIp(text), undefined, text);
    }
  });

  it("the IPv6 fast path agrees with ipaddr.js on 50,000 seeded random literals", () => {
    // What parseIp gave before the fast path: ipaddr.js decides validity and RFC 5952 text.
    const reference = (text: string): string | undefined => {
      if (!ipaddr.IPv6.isValid(text)) return undefined;
      const ip = ipaddr.IPv6.parse(text);
      if (ip.isIPv4MappedAddress()) return `::ffff:${ip.toIPv4Address().toString()}`;
      const canonical = ip.toRFC5952String();
      // A zone only means something on a link-local address.
      return ip.range() !== "linkLocal" && canonical.includes("%") ? canonical.slice(0, canonical.indexOf("%")) : canonical;
    };
    let x = 0x9e3779b9;
    const random = (n: number): number => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % n;
    };
    const hex = "0123456789abcdefABCDEF";
    const group = (): string => {
      const kind = random(6);
      if (kind === 0) return "0";
      if (kind === 1) return "ffff";
      const digits = random(8) === 0 ? 5 : 1 + random(4);
      return Array.from({ length: digits }, () => (random(3) === 0 ? "0" : hex[random(hex.length)])).join("");
    };
    const literal = (): string => {
      const count = random(10);
      let text = random(5) === 0 ? "::" : random(20) === 0 ? ":" : "";
      for (let k = 0; k < count; k++) {
        if (k > 0) text += random(8) === 0 ? "::" : random(40) === 0 ? ":::" : ":";
        text += group();
      }
      if (random(6) === 0) text += "::";
      if (random(30) === 0) text += ".1";
      else if (random(12) === 0) text += `${text === "" || text.endsWith(":") ? "" : ":"}${random(300)}.${random(256)}.1.${random(256)}`;
      if (random(30) === 0) text = text.slice(0, random(text.length + 1)) + " %g.-x"[random(6)] + text.slice(random(text.length + 1));
      return text;
    };
    let fast = 0;
    let valid = 0;
    for (let n = 0; n < 50_000; n++) {
      const text = literal();
      const expected = reference(text);
      const plain = plainIpv6(text);
      if (plain !== undefined) {
        fast++;
        assert.equal(plain, expected, `plainIpv6(${JSON.stringify(text)})`);
      }
      const parsed = text.includes(":") ? parseIp(text) : undefined;
      assert.equal(parsed?.address, expected, `parseIp(${JSON.stringify(text)})`);
      if (expected !== undefined) valid++;
    }
    // The generator must reach both sides: literals the fast path takes, and others.
    assert.ok(fast > 5_000 && valid > fast + 100 && valid < 45_000, `fast path ${fast}, valid ${valid} of 50,000`);
  });

  it("formats socket addresses", () => {
    assert.equal(formatSocketAddress({ address: "::1", port: 80 }), "[::1]:80");
    assert.equal(formatSocketAddress({ address: "127.0.0.1", port: 80 }), "127.0.0.1:80");
  });
});

describe("errors", () => {
  it("has exactly the WASI sockets codes and the three TLS codes", () => {
    assert.equal(SOCKET_ERROR_CODES.length, 20);
    assert.ok(SOCKET_ERROR_CODES.includes("permanent-resolver-failure"));
    for (const code of ["tls-certificate-untrusted", "tls-certificate-name-mismatch", "tls-handshake-failed"] as const) {
      assert.ok(SOCKET_ERROR_CODES.includes(code), code);
    }
  });

  it("keeps the cause and names operation and target", () => {
    const cause = new Error("ECONNREFUSED");
    const error = socketError("connection-refused", "tcp.connect", "127.0.0.1:1", undefined, cause);
    assert.ok(error instanceof SocketError && error instanceof Error);
    assert.equal(error.name, "SocketError");
    assert.equal(error.message, "tcp.connect 127.0.0.1:1: connection refused");
    assert.equal(error.cause, cause);
  });

  it("maps errno names", () => {
    assert.equal(codeFromErrno("ECONNRESET"), "connection-reset");
    assert.equal(codeFromErrno("EADDRINUSE"), "address-in-use");
    assert.equal(codeFromErrno("ENOTFOUND"), "name-unresolvable");
    assert.equal(codeFromErrno("EWHATEVER"), "unknown");
  });
});

describe("resolve basics", () => {
  it("orders IPv6 and IPv4 interleaved, IPv6 first, de-duplicated, unmapped", () => {
    assert.deepEqual(
      orderAddresses(["203.0.113.1", "203.0.113.2", "2001:db8::1", "::ffff:203.0.113.1", "2001:DB8::1"], "any"),
      ["2001:db8::1", "203.0.113.1", "203.0.113.2"],
    );
    assert.deepEqual(orderAddresses(["203.0.113.1", "2001:db8::1"], "ipv4"), ["203.0.113.1"]);
  });

  it("normalises names with IDNA and checks their syntax", () => {
    assert.equal(normalizeName("Example.COM.", "resolve"), "example.com");
    assert.equal(normalizeName("bücher.example", "resolve"), "xn--bcher-kva.example");
    for (const bad of ["", "a..b", ".", `${"a".repeat(64)}.x`, `${"a.".repeat(127)}a`, "-a.b", "a_b.c", "127.1"]) {
      assert.throws(() => normalizeName(bad, "resolve"), (error: SocketError) => error.code === "invalid-argument", bad);
    }
  });

  for (const { name, net } of networks()) {
    it(`literals and localhost need no query (${name} driver)`, async () => {
      assert.deepEqual(await net.resolveAddresses("2001:DB8::0:1"), ["2001:db8::1"]);
      assert.deepEqual(await net.resolveAddresses("127.0.0.1"), ["127.0.0.1"]);
      assert.deepEqual(await net.resolveAddresses("localhost"), ["::1", "127.0.0.1"]);
      assert.deepEqual(await net.resolveAddresses("app.localhost", { family: "ipv6" }), ["::1"]);
      await rejectsWith(net.resolveAddresses("a..b"), "invalid-argument");
      await rejectsWith(net.resolveAddresses("localhost", { family: "ipx" as "any" }), "invalid-argument");
    });

    it(`a Resolver instance is used, with timeout and signal (${name} driver)`, async () => {
      const table = { resolve: () => Promise.resolve(["203.0.113.7", "2001:db8::7"]) };
      assert.deepEqual(await net.resolveAddresses("db.test", { resolver: table }), ["2001:db8::7", "203.0.113.7"]);
      const empty = { resolve: () => Promise.resolve([]) };
      await rejectsWith(net.resolveAddresses("db.test", { resolver: empty }), "name-unresolvable");
      const never = { resolve: () => new Promise<string[]>(() => {}) };
      const late = await rejectsWith(
        net.resolveAddresses("db.test", { resolver: never, timeout: 50 }),
        "temporary-resolver-failure",
      );
      assert.match(late.message, /timed out after 50 ms/);
      const reason = new Error("stop");
      await assert.rejects(
        net.resolveAddresses("db.test", { resolver: never, signal: AbortSignal.abort(reason) }),
        (error) => error === reason,
      );
    });
  }
});
