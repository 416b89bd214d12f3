/**
 * Capability rules, form by form: each allows what it should and nothing else; the
 * flag parser; and handles made from rules, on every driver.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { describe, it } from "node:test";
import { parseIp } from "../core/address.ts";
import type { ParsedIp } from "../core/address.ts";
import { loadableDrivers } from "../network/ambient.ts";
import { RulePolicy } from "../network/capability/compiled.ts";
import type { NetworkPolicyInit } from "../network/capability/rules.ts";
import { SocketError } from "../core/errors.ts";
import type { AccessRequest } from "../network/policy.ts";
import { createNetwork, parseNetworkFlags, WireResolver } from "../mod.ts";
import { CountingResolver, HOSTS, restricted, tcpTarget, unrestricted } from "./capability_helpers.ts";
import { rejectsWith } from "./helpers.ts";
import { readText, withTempDir } from "./unix_helpers.ts";

function ip(text: string): ParsedIp {
  const parsed = parseIp(text);
  if (parsed === undefined) throw new Error(`not an address: ${text}`);
  return parsed;
}

type Protocol = "tcp" | "udp";
const out = (protocol: Protocol, address: string, port: number, hostname = address): AccessRequest => ({
  kind: "outbound",
  protocol,
  address: ip(address),
  port,
  hostname,
});
const inb = (protocol: Protocol, address: string, port: number, hostname = address): AccessRequest => ({
  kind: "inbound",
  protocol,
  address: ip(address),
  port,
  hostname,
});
const res = (name: string): AccessRequest => ({ kind: "resolve", name });
const uout = (path: string): AccessRequest => ({ kind: "outbound-unix", path });
const uin = (path: string): AccessRequest => ({ kind: "inbound-unix", path });

function show(request: AccessRequest): string {
  switch (request.kind) {
    case "resolve":
      return `resolve ${JSON.stringify(request.name)}`;
    case "outbound":
    case "inbound":
      return `${request.kind} ${request.protocol} ${request.address.address}:${request.port}${request.hostname === request.address.address ? "" : ` as ${request.hostname}`}`;
    default:
      return `${request.kind} ${JSON.stringify(request.path)}`;
  }
}

interface Form {
  form: string;
  rules: NetworkPolicyInit;
  allows: AccessRequest[];
  denies: AccessRequest[];
}

const FORMS: Form[] = [
  {
    form: "resolve: a name",
    rules: ["--allow-resolve=example.com"],
    allows: [res("example.com"), res("EXAMPLE.com."), res("Example.COM")],
    denies: [res("a.example.com"), res("example.org"), res("example.com.evil"), res("127.0.0.1"), res("::1"), out("tcp", "127.0.0.1", 80, "example.com")],
  },
  {
    form: "resolve: *.domain (names under it, not itself)",
    rules: ["--allow-resolve=*.example.com"],
    allows: [res("a.example.com"), res("a.b.example.com"), res("A.EXAMPLE.COM.")],
    denies: [res("example.com"), res("aexample.com"), res("example.com.evil"), res("a.example.org")],
  },
  {
    form: "resolve: * (every name, and literals)",
    rules: ["--allow-resolve=*"],
    allows: [res("example.com"), res("a.b.c"), res("127.0.0.1"), res("::1")],
    denies: [out("tcp", "127.0.0.1", 80), inb("tcp", "127.0.0.1", 80)],
  },
  {
    form: "resolve: a Unicode name, compared after IDNA",
    rules: ["--allow-resolve=bücher.example"],
    allows: [res("xn--bcher-kva.example"), res("BÜCHER.example."), res("bücher.example")],
    denies: [res("bucher.example"), res("xn--bcher-kva.example.evil")],
  },
  {
    form: "tcp: an IPv4 address and port",
    rules: ["--allow-outbound=tcp://127.0.0.1:80"],
    allows: [out("tcp", "127.0.0.1", 80), out("tcp", "::ffff:127.0.0.1", 80)],
    denies: [out("tcp", "127.0.0.1", 81), out("tcp", "127.0.0.2", 80), out("udp", "127.0.0.1", 80), inb("tcp", "127.0.0.1", 80), out("tcp", "::1", 80), res("127.0.0.1")],
  },
  {
    form: "tcp: an IPv6 address, with or without brackets, in any spelling",
    rules: ["--allow-outbound=tcp://[0:0::1]:443,tcp://2001:DB8::1:443"],
    allows: [out("tcp", "::1", 443), out("tcp", "2001:db8::1", 443)],
    denies: [out("tcp", "::2", 443), out("tcp", "127.0.0.1", 443), out("tcp", "::1", 80), out("tcp", "::ffff:0.0.0.1", 443)],
  },
  {
    form: "tcp: an IPv4-mapped address is its IPv4 address",
    rules: ["--allow-outbound=tcp://[::ffff:10.0.0.1]:80"],
    allows: [out("tcp", "10.0.0.1", 80), out("tcp", "::ffff:10.0.0.1", 80)],
    denies: [out("tcp", "10.0.0.2", 80), out("tcp", "::a00:1", 80)],
  },
  {
    form: "tcp: an IPv4 pool",
    rules: ["--allow-outbound=tcp://10.0.0.0/8:5432"],
    allows: [out("tcp", "10.0.0.0", 5432), out("tcp", "10.255.255.255", 5432), out("tcp", "::ffff:10.1.2.3", 5432)],
    denies: [out("tcp", "11.0.0.0", 5432), out("tcp", "9.255.255.255", 5432), out("tcp", "10.0.0.1", 5433), out("tcp", "::a00:1", 5432)],
  },
  {
    form: "tcp: an IPv6 pool, in each spelling",
    rules: ["--allow-outbound=tcp://fd00::/8:*,tcp://[2001:db8::]/32:1,tcp://[fe80::/10]:2"],
    allows: [out("tcp", "fd12:3456::1", 1), out("tcp", "fdff:ffff::", 65535), out("tcp", "2001:db8:ffff::1", 1), out("tcp", "fe80::1", 2)],
    denies: [out("tcp", "fe00::1", 1), out("tcp", "2001:db9::1", 1), out("tcp", "2001:db8::1", 2), out("tcp", "::ffff:10.0.0.1", 1), out("tcp", "10.0.0.1", 1)],
  },
  {
    form: "tcp: /0 and full-length pools",
    rules: ["--allow-outbound=tcp://0.0.0.0/0:1,tcp://192.0.2.7/32:2,tcp://[::]/0:3,tcp://[::2]/128:4"],
    allows: [out("tcp", "203.0.113.1", 1), out("tcp", "::ffff:203.0.113.1", 1), out("tcp", "192.0.2.7", 2), out("tcp", "2001:db8::1", 3), out("tcp", "::2", 4)],
    denies: [out("tcp", "192.0.2.8", 2), out("tcp", "::ffff:203.0.113.1", 3), out("tcp", "::3", 4), out("tcp", "::1", 1)],
  },
  {
    form: "tcp: an IPv4-mapped pool is its IPv4 pool",
    rules: ["--allow-outbound=tcp://[::ffff:10.0.0.0]/104:*"],
    allows: [out("tcp", "10.1.1.1", 9), out("tcp", "::ffff:10.1.1.1", 9)],
    denies: [out("tcp", "11.0.0.1", 9), out("tcp", "::a01:101", 9)],
  },
  {
    form: "tcp: localhost is the loopback addresses (and may be resolved)",
    rules: ["--allow-outbound=tcp://localhost:8080"],
    allows: [out("tcp", "127.0.0.1", 8080), out("tcp", "127.9.9.9", 8080), out("tcp", "::1", 8080), out("tcp", "::ffff:127.0.0.1", 8080), res("localhost"), res("LOCALHOST.")],
    denies: [out("tcp", "::2", 8080), out("tcp", "128.0.0.1", 8080), out("tcp", "0.0.0.0", 8080), out("tcp", "127.0.0.1", 8081), res("a.localhost"), inb("tcp", "127.0.0.1", 8080)],
  },
  {
    form: "tcp: any address (* resolves no name)",
    rules: ["--allow-outbound=tcp://*:80"],
    allows: [out("tcp", "203.0.113.1", 80), out("tcp", "2001:db8::1", 80), out("tcp", "127.0.0.1", 80, "a.example.com")],
    denies: [out("tcp", "203.0.113.1", 81), out("udp", "203.0.113.1", 80), res("a.example.com")],
  },
  {
    form: "tcp: port ranges and *",
    rules: ["--allow-outbound=tcp://127.0.0.1:8000-8100", "--allow-inbound=tcp://127.0.0.1:*"],
    allows: [out("tcp", "127.0.0.1", 8000), out("tcp", "127.0.0.1", 8050), out("tcp", "127.0.0.1", 8100), inb("tcp", "127.0.0.1", 0), inb("tcp", "127.0.0.1", 65535)],
    denies: [out("tcp", "127.0.0.1", 7999), out("tcp", "127.0.0.1", 8101), inb("tcp", "127.0.0.2", 0)],
  },
  {
    form: "tcp: a name allows the addresses it resolved to, in the same call",
    rules: ["--allow-outbound=tcp://db.internal:5432"],
    allows: [out("tcp", "10.0.0.1", 5432, "db.internal"), out("tcp", "::1", 5432, "DB.Internal."), res("db.internal"), res("DB.INTERNAL")],
    denies: [out("tcp", "10.0.0.1", 5432), out("tcp", "10.0.0.1", 5433, "db.internal"), out("tcp", "10.0.0.1", 5432, "db.internal.evil"), res("evil.internal"), res("internal")],
  },
  {
    form: "tcp: *.domain allows names under it, and resolving them",
    rules: ["--allow-outbound=tcp://*.example.com:443"],
    allows: [out("tcp", "192.0.2.1", 443, "a.example.com"), out("tcp", "192.0.2.1", 443, "b.a.example.com"), res("a.example.com")],
    denies: [out("tcp", "192.0.2.1", 443, "example.com"), out("tcp", "192.0.2.1", 443, "aexample.com"), out("tcp", "192.0.2.1", 443), res("example.com")],
  },
  {
    form: "tcp: a name and a domain with different ports",
    rules: ["--allow-outbound=tcp://*.b.example.com:80,tcp://*.example.com:443"],
    allows: [out("tcp", "192.0.2.1", 80, "a.b.example.com"), out("tcp", "192.0.2.1", 443, "a.b.example.com"), out("tcp", "192.0.2.1", 443, "c.example.com")],
    denies: [out("tcp", "192.0.2.1", 80, "c.example.com")],
  },
  {
    form: "udp: an address is for udp only",
    rules: ["--allow-outbound=udp://127.0.0.1:53"],
    allows: [out("udp", "127.0.0.1", 53), out("udp", "::ffff:127.0.0.1", 53)],
    denies: [out("tcp", "127.0.0.1", 53), inb("udp", "127.0.0.1", 53), out("udp", "127.0.0.1", 54)],
  },
  {
    form: "inbound: udp on the wildcard address",
    rules: ["--allow-inbound=udp://0.0.0.0:5353"],
    allows: [inb("udp", "0.0.0.0", 5353)],
    denies: [inb("udp", "127.0.0.1", 5353), inb("udp", "::", 5353), out("udp", "0.0.0.0", 5353), inb("udp", "0.0.0.0", 0)],
  },
  {
    form: "inbound: a name allows what it resolves to",
    rules: ["--allow-inbound=tcp://db.internal:8080"],
    allows: [inb("tcp", "10.0.0.1", 8080, "db.internal"), res("db.internal")],
    denies: [inb("tcp", "10.0.0.1", 8080), out("tcp", "10.0.0.1", 8080, "db.internal")],
  },
  {
    form: "unix: a path",
    rules: ["--allow-outbound=unix:/nonexistent-unisock/app.sock"],
    allows: [uout("/nonexistent-unisock/app.sock")],
    denies: [uout("/nonexistent-unisock/app.sock2"), uout("/nonexistent-unisock/app"), uout("/nonexistent-unisock"), uin("/nonexistent-unisock/app.sock")],
  },
  {
    form: "unix: * within a folder",
    rules: ["--allow-inbound=unix:/nonexistent-unisock/run/*"],
    allows: [uin("/nonexistent-unisock/run/a.sock"), uin("/nonexistent-unisock/run/.b")],
    denies: [uin("/nonexistent-unisock/run/sub/a.sock"), uin("/nonexistent-unisock/other.sock"), uin("/nonexistent-unisock/run"), uout("/nonexistent-unisock/run/a.sock")],
  },
  {
    form: "unix: ** across folders, * within a name",
    rules: ["--allow-outbound=unix:/nonexistent-unisock/run/**,unix:/nonexistent-unisock/app-*.sock"],
    allows: [uout("/nonexistent-unisock/run/a/b/c.sock"), uout("/nonexistent-unisock/app-1.sock")],
    denies: [uout("/nonexistent-unisock/runner/a.sock"), uout("/nonexistent-unisock/app-1.sockx"), uout("/nonexistent-unisock/x/app-1.sock")],
  },
  {
    form: "unix: an abstract name as @name, and a pattern",
    rules: ["--allow-outbound=unix:@app,unix:@job-*"],
    allows: [uout("\0app"), uout("\0job-1")],
    denies: [uout("\0app2"), uout("/app"), uout("@app"), uout("\0job")],
  },
  {
    form: "no rules: nothing",
    rules: {},
    allows: [],
    denies: [res("localhost"), res("127.0.0.1"), out("tcp", "127.0.0.1", 80), inb("tcp", "127.0.0.1", 0), out("udp", "127.0.0.1", 53), uout("/tmp/x.sock"), uin("/tmp/x.sock"), uout("\0x")],
  },
];

describe("capability rules, form by form", () => {
  for (const { form, rules, allows, denies } of FORMS) {
    it(form, () => {
      const policy = new RulePolicy(rules, "test");
      for (const request of allows) assert.equal(policy.check(request), undefined, `should allow ${show(request)}`);
      for (const request of denies) {
        const denial = policy.check(request);
        assert.equal(typeof denial, "string", `should deny ${show(request)}`);
        assert.match(denial ?? "", /--allow-(resolve|outbound|inbound)/, "the denial names a flag");
      }
    });
  }

  it("the object form, flag strings and one flag string are the same policy", () => {
    const forms: NetworkPolicyInit[] = [
      { resolve: ["a.example"], outbound: ["tcp://127.0.0.1:80", "udp://10.0.0.0/8:53"], inbound: ["tcp://*:8080"] },
      ["--allow-resolve=a.example", "--allow-outbound=tcp://127.0.0.1:80,udp://10.0.0.0/8:53", "--allow-inbound=tcp://*:8080"],
    ];
    const requests = [res("a.example"), res("b.example"), out("tcp", "127.0.0.1", 80), out("udp", "10.1.1.1", 53), out("udp", "127.0.0.1", 80), inb("tcp", "0.0.0.0", 8080)];
    const [first, second] = forms.map((init) => new RulePolicy(init, "test"));
    for (const request of requests) assert.equal(first.check(request) === undefined, second.check(request) === undefined, show(request));
    assert.equal(new RulePolicy("--allow-resolve=a.example", "test").check(res("a.example")), undefined);
  });

  it("a request whose address is not in canonical spelling matches nothing", () => {
    const policy = new RulePolicy(["--allow-outbound=tcp://127.0.0.0/8:*,tcp://*.example.com:*"], "test");
    for (const address of ["127.1", "0x7f.0.0.1", "127.0.0.01", "0:0:0:0:0:0:0:1", "::FFFF:127.0.0.1"]) {
      const request: AccessRequest = { kind: "outbound", protocol: "tcp", address: { address, family: address.includes(":") ? "ipv6" : "ipv4" }, port: 80, hostname: "a.example.com" };
      assert.equal(typeof policy.check(request), "string", address);
    }
  });

  it("unix rules and requests are matched on real paths", () =>
    withTempDir((dir) => {
      fs.mkdirSync(`${dir}/real`);
      fs.symlinkSync(`${dir}/real`, `${dir}/alias`);
      const policy = new RulePolicy([`--allow-outbound=unix:${dir}/alias/*`], "test");
      assert.equal(policy.check(uout(`${dir}/real/a.sock`)), undefined, "the rule's folder is resolved");
      assert.equal(policy.check(uout(`${dir}/alias/a.sock`)), undefined, "so is the request's");
      const denial = policy.check(uout(`${dir}/alias/../x.sock`));
      assert.match(denial ?? "", new RegExp(`unix:${dir}/x.sock`));
      return Promise.resolve();
    }));
});

describe("parseNetworkFlags", () => {
  it("reads the three flags, repeated and with comma lists; leaves other arguments; stops at --", () => {
    const rules = parseNetworkFlags([
      "serve",
      "--allow-resolve=*.example.com",
      "--verbose",
      "--allow-outbound=tcp://db.internal:5432,udp://10.0.0.0/8:53",
      "--allow-outbound=unix:/run/app.sock",
      "--allow-inbound=tcp://localhost:8080",
      "--allowance=3",
      "--",
      "--allow-inbound=tcp://*:*",
    ]);
    assert.deepEqual(rules, {
      resolve: ["*.example.com"],
      outbound: ["tcp://db.internal:5432", "udp://10.0.0.0/8:53", "unix:/run/app.sock"],
      inbound: ["tcp://localhost:8080"],
    });
    assert.deepEqual(parseNetworkFlags([]), { resolve: [], outbound: [], inbound: [] });
  });

  const MALFORMED: [string, RegExp][] = [
    ["--allow-outbound", /needs rules after =/],
    ["--allow-outbound=", /empty rule/],
    ["--allow-outbound=tcp://127.0.0.1:80,", /empty rule/],
    ["--allow-outbound=127.0.0.1:80", /expected tcp:\/\/HOST:PORT/],
    ["--allow-outbound=TCP://127.0.0.1:80", /expected tcp:\/\/HOST:PORT/],
    ["--allow-outbound=http://example.com:80", /expected tcp:\/\/HOST:PORT/],
    ["--allow-outbound=tcp://127.0.0.1", /expected tcp:\/\/HOST:PORT/],
    ["--allow-outbound=tcp://127.0.0.1:65536", /over 65535/],
    ["--allow-outbound=tcp://127.0.0.1:http", /not a number/],
    ["--allow-outbound=tcp://127.0.0.1:90-80", /backwards/],
    ["--allow-outbound=tcp://127.0.0.1:-1", /not a number/],
    ["--allow-outbound=tcp://127.1:80", /not a dotted-quad/],
    ["--allow-outbound=tcp://2130706433:80", /not a dotted-quad/],
    ["--allow-outbound=tcp://0x7f.0.0.1:80", /not a dotted-quad/],
    ["--allow-outbound=tcp://10.0.0.0/33:80", /at most 32/],
    ["--allow-outbound=tcp://fd00::/129:80", /at most 128/],
    ["--allow-outbound=tcp://10.0.0.1/8:80", /bits are set past the prefix/],
    ["--allow-outbound=tcp://10/8:80", /not a CIDR pool/],
    ["--allow-outbound=tcp://[::ffff:0:0]/95:80", /not a CIDR pool/],
    ["--allow-outbound=tcp://foo*.example.com:80", /\* stands alone/],
    ["--allow-outbound=tcp://a..b:80", /empty label/],
    ["--allow-outbound=tcp://a_b.example:80", /not letters, digits/],
    ["--allow-outbound=tcp://[nope]:80", /not an IPv6 address/],
    ["--allow-outbound=udp://dns.example:53", /udp.send takes IP addresses/],
    ["--allow-outbound=unix:run/app.sock", /not an absolute path/],
    ["--allow-outbound=unix:@", /needs a name after @/],
    ["--allow-resolve=127.0.0.1", /not a name/],
    ["--allow-resolve=*example.com", /not a name/],
    ["--allow-resolve=a.*.example.com", /not a name/],
    ["--allow-inbound=tcp://*:*:*", /\* stands alone/],
  ];
  for (const [flag, problem] of MALFORMED) {
    it(`rejects ${JSON.stringify(flag)} with invalid-argument saying what is wrong`, () => {
      assert.throws(
        () => parseNetworkFlags(["--verbose", flag]),
        (error: unknown) => {
          assert.ok(error instanceof SocketError);
          assert.equal(error.code, "invalid-argument");
          assert.match(error.message, /^parseNetworkFlags /);
          assert.match(error.message, problem);
          return true;
        },
      );
    });
  }

  it("createNetwork and restrict check the object form too", () => {
    const bad: [unknown, RegExp][] = [
      [{ outbund: ["tcp://*:*"] }, /unknown policy key "outbund"/],
      [{ outbound: "tcp://*:*" }, /must be an array/],
      [{ outbound: [80] }, /must be a string/],
      [["tcp://*:*"], /expected --allow-resolve=/],
      [42, /policy must be/],
      [{ inbound: ["tcp://*:99999"] }, /over 65535/],
    ];
    for (const [policy, problem] of bad) {
      const error = (() => {
        try {
          createNetwork(policy as NetworkPolicyInit);
        } catch (error) {
          return error;
        }
      })();
      assert.ok(error instanceof SocketError && error.code === "invalid-argument", String(error));
      assert.match(error.message, /^createNetwork[ :]/);
      assert.match(error.message, problem);
    }
    assert.throws(() => createNetwork().restrict({ resolve: ["a..b"] }), /^SocketError: network.restrict /);
    assert.throws(() => createNetwork({}, { resolver: "dns" as "wire" }), /resolver must be/);
  });
});

describe("createNetwork (runtime driver)", () => {
  const resolver = new WireResolver({ nameservers: ["127.0.0.1:9"], hosts: HOSTS, search: [] });

  it("with no rules, every operation is access-denied, naming the operation, the target and a flag", () =>
    withTempDir(async (dir) => {
      const none = createNetwork();
      const cases: [Promise<unknown>, RegExp][] = [
        [none.resolveAddresses("example.com"), /^resolve example\.com: access denied: .*--allow-resolve=example\.com/],
        [none.tcp.connect({ hostname: "127.0.0.1", port: 9 }), /^tcp\.connect 127\.0\.0\.1:9: access denied: .*--allow-outbound=tcp:\/\/127\.0\.0\.1:9 would/],
        [none.tcp.connect({ hostname: "db.internal", port: 5432 }), /^tcp\.connect db\.internal: access denied: .*--allow-resolve=db\.internal/],
        [none.tcp.listen({ hostname: "::1", port: 0 }), /^tcp\.listen \[::1\]:0: access denied: .*--allow-inbound=tcp:\/\/\[::1\]:0 would/],
        [none.udp.bind({ port: 5353 }), /^udp\.bind 0\.0\.0\.0:5353: access denied: .*--allow-inbound=udp:\/\/0\.0\.0\.0:5353 would/],
        [none.unix.connect(`${dir}/a.sock`), new RegExp(`^unix\\.connect ${dir}/a\\.sock: access denied: .*--allow-outbound=unix:${dir}/a\\.sock would`)],
        [none.unix.listen(`${dir}/a.sock`), new RegExp(`^unix\\.listen ${dir}/a\\.sock: access denied: .*--allow-inbound=unix:${dir}/a\\.sock would`)],
      ];
      for (const [work, message] of cases) {
        const error = await rejectsWith(work, "access-denied");
        assert.match(error.message, message);
      }
      assert.equal(fs.existsSync(`${dir}/a.sock`), false);
    }));

  it("gives the README's error for anything but tcp://db.internal:5432", async () => {
    const network = createNetwork({ outbound: ["tcp://db.internal:5432"] }, { resolver });
    const byAddress = await rejectsWith(network.tcp.connect({ hostname: "127.0.0.1", port: 6379 }), "access-denied");
    assert.equal(
      byAddress.message,
      "tcp.connect 127.0.0.1:6379: access denied: no rule of this network allows tcp://127.0.0.1:6379 (--allow-outbound=tcp://127.0.0.1:6379 would)",
    );
    const byName = await rejectsWith(network.tcp.connect({ hostname: "cache.internal", port: 6379 }), "access-denied");
    assert.equal(
      byName.message,
      "tcp.connect cache.internal: access denied: no rule of this network allows resolving cache.internal (--allow-resolve=cache.internal, or a rule naming it, would)",
    );
    const otherPort = await rejectsWith(network.tcp.connect({ hostname: "db.internal", port: 22 }), "access-denied");
    assert.equal(
      otherPort.message,
      "tcp.connect db.internal:22: access denied: no rule of this network allows tcp://127.0.0.1:22, the address db.internal resolved to (--allow-outbound=tcp://db.internal:22 would)",
    );
    assert.deepEqual(await network.resolveAddresses("db.internal"), ["127.0.0.1"]);
  });
});

for (const driver of loadableDrivers()) {
  describe(`networks made of rules (${driver.name} driver)`, () => {
    it("connects by a name allowed by an outbound rule, through the handle's resolver", async () => {
      const resolver = new CountingResolver(driver);
      const target = await tcpTarget(unrestricted(driver, resolver));
      try {
        const net = restricted(driver, [`--allow-outbound=tcp://db.internal:${target.port}`], resolver);
        const accepted = target.listener.accept();
        await using conn = await net.tcp.connect({ hostname: "DB.internal.", port: target.port });
        await using server = await accepted;
        assert.equal(server.remoteAddress.port, conn.localAddress.port);
        assert.deepEqual(resolver.asked, ["db.internal"]);
      } finally {
        target.listener.close();
      }
    });

    it("tries only the allowed addresses of a name, and never the others", async () => {
      const resolver = new CountingResolver(driver);
      const target = await tcpTarget(unrestricted(driver, resolver));
      try {
        // mixed.internal → 203.0.113.9 (denied, never tried), 127.0.0.1 (allowed).
        const net = restricted(driver, { resolve: ["mixed.internal"], outbound: [`tcp://127.0.0.0/8:${target.port}`] }, resolver);
        const started = Date.now();
        await using conn = await net.tcp.connect({ hostname: "mixed.internal", port: target.port });
        assert.equal(conn.remoteAddress.address, "127.0.0.1");
        assert.ok(Date.now() - started < 250, "no attempt at the denied address was waited for");
        (await target.listener.accept()).close();
      } finally {
        target.listener.close();
      }
    });

    it("localhost in a rule allows connecting to localhost and listening on loopback", async () => {
      const resolver = new CountingResolver(driver);
      const target = await tcpTarget(unrestricted(driver, resolver));
      try {
        const net = restricted(driver, [`--allow-outbound=tcp://localhost:${target.port}`, "--allow-inbound=tcp://localhost:*"], resolver);
        await using conn = await net.tcp.connect({ hostname: "localhost", port: target.port });
        assert.equal(conn.remoteAddress.address, "127.0.0.1");
        (await target.listener.accept()).close();
        await using listener = await net.tcp.listen({ hostname: "127.0.0.1", port: 0 });
        assert.equal(listener.localAddress.address, "127.0.0.1");
        await rejectsWith(net.tcp.listen({ hostname: "0.0.0.0", port: 0 }), "access-denied");
        assert.deepEqual(resolver.asked, [], "localhost is not looked up");
      } finally {
        target.listener.close();
      }
    });

    it("resolveAddresses uses the handle's resolver unless the call names one", async () => {
      const resolver = new CountingResolver(driver);
      const net = restricted(driver, ["--allow-resolve=*.internal"], resolver);
      assert.deepEqual(await net.resolveAddresses("db.internal"), ["127.0.0.1"]);
      assert.deepEqual(resolver.asked, ["db.internal"]);
      const own = { resolve: () => Promise.resolve(["192.0.2.1"]) };
      assert.deepEqual(await net.resolveAddresses("evil.internal", { resolver: own }), ["192.0.2.1"]);
      assert.deepEqual(resolver.asked, ["db.internal"]);
      await rejectsWith(net.resolveAddresses("example.com", { resolver: own }), "access-denied");
    });

    it("restrict: the narrower handle gets the intersection, and says who denied", async () => {
      const resolver = new CountingResolver(driver);
      const target = await tcpTarget(unrestricted(driver, resolver));
      try {
        const parent = restricted(driver, ["--allow-outbound=tcp://127.0.0.0/8:*"], resolver);
        const child = parent.restrict([`--allow-outbound=tcp://127.0.0.1:${target.port},tcp://[::1]:*`]);
        await using conn = await child.tcp.connect({ hostname: "127.0.0.1", port: target.port });
        (await target.listener.accept()).close();
        const own = await rejectsWith(child.tcp.connect({ hostname: "127.0.0.2", port: target.port }), "access-denied");
        assert.doesNotMatch(own.message, /restricted/);
        const inherited = await rejectsWith(child.tcp.connect({ hostname: "::1", port: target.port }), "access-denied");
        assert.match(inherited.message, /restricted from one that denies it/);
        assert.ok(conn.remoteAddress.port === target.port);
      } finally {
        target.listener.close();
      }
    });

    it("udp: a server socket hears everyone; a client socket hears only peers it may send to", async () => {
      const resolver = new CountingResolver(driver);
      const open = unrestricted(driver, resolver);
      await using stranger = await open.udp.bind({ hostname: "127.0.0.1", port: 0 });
      const server = restricted(driver, ["--allow-inbound=udp://127.0.0.1:*", "--allow-outbound=udp://127.0.0.1:*"], resolver);
      await using service = await server.udp.bind({ hostname: "127.0.0.1", port: 0 });
      const client = restricted(driver, [`--allow-outbound=udp://127.0.0.1:${service.localAddress.port}`], resolver);
      await using socket = await client.udp.bind({ hostname: "127.0.0.1", port: 0 });

      await socket.send(new TextEncoder().encode("question"), { address: "127.0.0.1", port: service.localAddress.port });
      const question = await service.receive({ signal: AbortSignal.timeout(5000) });
      assert.equal(question.remoteAddress.port, socket.localAddress.port);
      await stranger.send(new TextEncoder().encode("noise"), { address: "127.0.0.1", port: service.localAddress.port });
      assert.equal((await service.receive({ signal: AbortSignal.timeout(5000) })).remoteAddress.port, stranger.localAddress.port, "the server hears a stranger");

      await stranger.send(new TextEncoder().encode("noise"), { address: "127.0.0.1", port: socket.localAddress.port });
      await service.send(new TextEncoder().encode("answer"), question.remoteAddress);
      const answer = await socket.receive({ signal: AbortSignal.timeout(5000) });
      assert.equal(new TextDecoder().decode(answer.data), "answer", "the stranger's datagram was dropped");
      assert.equal(answer.remoteAddress.port, service.localAddress.port);

      socket.connect({ address: "127.0.0.1", port: service.localAddress.port });
      await socket.send(new TextEncoder().encode("again"));
      assert.equal(new TextDecoder().decode((await service.receive({ signal: AbortSignal.timeout(5000) })).data), "again");
    });

    it("unix: exact paths and folders allow connecting and listening", () =>
      withTempDir(async (dir) => {
        fs.mkdirSync(`${dir}/run`);
        const resolver = new CountingResolver(driver);
        const net = restricted(driver, [`--allow-inbound=unix:${dir}/run/*`, `--allow-outbound=unix:${dir}/run/app.sock`], resolver);
        await using listener = await net.unix.listen(`${dir}/run/app.sock`);
        const accepted = listener.accept();
        const conn = await net.unix.connect(`${dir}/run/app.sock`);
        await conn.write(new TextEncoder().encode("hi"));
        await conn.closeWrite();
        await using server = await accepted;
        assert.equal(await readText(server), "hi");
        conn.close();
        await using other = await net.unix.listen(`${dir}/run/other.sock`);
        await rejectsWith(net.unix.connect(`${dir}/run/other.sock`), "access-denied");
        await rejectsWith(net.unix.listen(`${dir}/app.sock`), "access-denied");
        assert.equal(other.localAddress.path, `${dir}/run/other.sock`);
      }));
  });
}
