import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { after, before, describe, it } from "node:test";
import dnsPacket from "dns-packet";
import { SocketError } from "../core/errors.ts";
import type { Driver } from "../core/driver.ts";
import { parseServer } from "../resolve/wire/config.ts";
import { encodePaddedQuery, encryptedCounters, padQuery } from "../resolve/wire/encrypted.ts";
import { encodeQuery, frameForTcp, TcpFrameReader } from "../resolve/wire/packet.ts";
import { tcp } from "../mod.ts";
import { WireResolver } from "../resolve/wire/wire_resolver.ts";
import type { WireResolverOptions } from "../resolve/wire/options.ts";
import { networks, rejectsWith } from "./helpers.ts";
import { testCertificates } from "./peers/certs.ts";
import type { TestCertificates } from "./peers/certs.ts";
import { freeTcpUdpPort, startUnbound } from "./peers/unbound.ts";
import type { UnboundPeer } from "./peers/unbound.ts";

describe("encrypted transports: the query encoder pads to 128 octets (RFC 8467)", () => {
  it("every length of name gives a multiple of 128, with an EDNS Padding option", () => {
    for (let length = 1; length <= 253; length += 7) {
      const labels: string[] = [];
      let left = length;
      while (left > 0) {
        const label = Math.min(left, 63);
        labels.push("x".repeat(label));
        left -= label + 1;
      }
      const name = labels.join(".");
      for (const type of ["A", "AAAA"] as const) {
        const message = encodePaddedQuery(0x1234, name, type);
        assert.equal(message.length % 128, 0, `${name.length} octets of name → ${message.length}`);
        const decoded = dnsPacket.decode(Buffer.from(message));
        assert.equal(decoded.questions?.[0].name, name);
        const opt = decoded.additionals?.[0] as dnsPacket.OptAnswer | undefined;
        assert.equal(opt?.type, "OPT");
        const padding = opt?.options.find((option) => option.code === 12);
        assert.ok(padding !== undefined, "a Padding option");
        assert.ok((padding.data?.length ?? 0) < 128);
        assert.ok(padding.data?.every((byte: number) => byte === 0), "padding is zeros");
      }
    }
  });

  it("keeps options already there and refuses a query without OPT", () => {
    assert.equal(padQuery(encodeQuery(1, "example.com", "A", true), 64).length, 64);
    assert.throws(() => padQuery(encodeQuery(1, "example.com", "A", false)), (error) => error instanceof SocketError && error.code === "invalid-argument");
  });
});

describe("encrypted transports: name servers as written", () => {
  it("parses tls:// and https:// with defaults", () => {
    assert.deepEqual(parseServer("tls://127.0.0.1"), {
      transport: "tls",
      host: "127.0.0.1",
      port: 853,
      path: "",
      identity: "127.0.0.1",
      serverName: undefined,
      text: "tls://127.0.0.1",
    });
    assert.deepEqual(parseServer("https://[::1]:8443/q#LocalHost"), {
      transport: "https",
      host: "::1",
      port: 8443,
      path: "/q",
      identity: "localhost",
      serverName: "localhost",
      text: "https://[::1]:8443/q#LocalHost",
    });
    const named = parseServer("https://dns.example");
    assert.ok("transport" in named);
    assert.equal(named.port, 443);
    assert.equal(named.path, "/dns-query");
    assert.equal(named.identity, "dns.example");
    assert.deepEqual(parseServer("127.0.0.1:5353"), { address: "127.0.0.1", family: "ipv4", port: 5353 });
  });

  it("refuses what is not a server", () => {
    for (const bad of ["tls://", "tls://::1", "tls://127.0.0.1:0", "tls://127.0.0.1/x", "http://127.0.0.1/dns-query", "https://127.0.0.1/q?x=1", "tls://127.0.0.1#", "tls://127.0.0.1#*.x", "udp://127.0.0.1"]) {
      assert.throws(() => parseServer(bad), (error) => error instanceof SocketError && error.code === "invalid-argument", bad);
      assert.throws(() => new WireResolver({ nameservers: [bad] }), (error) => error instanceof SocketError && error.code === "invalid-argument", bad);
    }
    assert.throws(() => new WireResolver({ ca: "not PEM" }), (error) => error instanceof SocketError && /ca holds no PEM/.test(error.message));
  });
});

let certs: TestCertificates;
let peer: UnboundPeer;
/** A second unbound that closes a TCP connection after 300 ms with no query on it. */
let closing: UnboundPeer;

interface Transport {
  label: string;
  driver: Driver | undefined;
  server(peer: UnboundPeer, name?: string): string;
}

function transports(): Transport[] {
  const list: Transport[] = networks().map(({ name, driver }) => ({
    label: `DNS over TLS (${name} driver)`,
    driver,
    server: (p: UnboundPeer, name = "localhost") => `tls://${p.host}:${p.tlsPort}#${name}`,
  }));
  list.push({
    label: "DNS over HTTPS (node:http2)",
    driver: undefined,
    server: (p: UnboundPeer, name = "localhost") => `https://${p.host}:${p.httpsPort}${p.path}#${name}`,
  });
  return list;
}

describe("encrypted transports against a real unbound", () => {
  before(async () => {
    certs = await testCertificates();
    [peer, closing] = await Promise.all([
      startUnbound({ cert: certs.server.cert, key: certs.server.key }),
      startUnbound({ cert: certs.server.cert, key: certs.server.key, extraConfig: ["tcp-idle-timeout: 300"] }),
    ]);
  });
  after(async () => {
    await Promise.all([peer?.stop(), closing?.stop()]);
  });

  for (const transport of transports()) {
    describe(transport.label, () => {
      const make = (nameservers: string[], options: WireResolverOptions = {}) =>
        new WireResolver(
          { nameservers, hosts: {}, search: [], timeout: 3000, attempts: 1, ca: certs.ca.cert, ...options },
          transport.driver ?? networks()[0].driver,
        );

      it("answers A, AAAA and a CNAME chain, with no plaintext query", async () => {
        await using resolver = make([transport.server(peer)]);
        assert.deepEqual(await resolver.resolve("a.unisock.test", "any"), ["203.0.113.1"]);
        assert.deepEqual(await resolver.resolve("v6.unisock.test", "ipv6"), ["2001:db8::1"]);
        assert.deepEqual((await resolver.resolve("both.unisock.test", "any")).sort(), ["2001:db8::2", "203.0.113.2"]);
        assert.deepEqual(await resolver.resolve("alias.unisock.test", "ipv4"), ["203.0.113.1"]);
        assert.equal(resolver.stats.udpQueries, 0);
        assert.equal(resolver.stats.tcpQueries, 0);
      });

      it("the certificate may be checked against the IP address", async () => {
        await using resolver = make([transport.server(peer, "127.0.0.1")]);
        assert.deepEqual(await resolver.resolve("a.unisock.test", "ipv4"), ["203.0.113.1"]);
      });

      it("HOST may be a name, resolved by the system resolver (localhost: ::1 refused, then 127.0.0.1)", async () => {
        const server = transport.server(peer).replace("127.0.0.1", "localhost").replace(/#localhost$/, "");
        await using resolver = make([server]);
        assert.deepEqual(await resolver.resolve("a.unisock.test", "ipv4"), ["203.0.113.1"]);
      });

      it("NXDOMAIN → name-unresolvable", async () => {
        await using resolver = make([transport.server(peer)]);
        assert.deepEqual(await resolver.resolve("nope.unisock.test", "any"), []);
        await rejectsWith(networks()[0].net.resolveAddresses("nope.unisock.test", { resolver }), "name-unresolvable");
      });

      it("a certificate without the name → temporary-resolver-failure naming tls-certificate-name-mismatch", async () => {
        await using resolver = make([transport.server(peer, "other.test")]);
        const error = await rejectsWith(resolver.resolve("a.unisock.test", "ipv4"), "temporary-resolver-failure");
        assert.match(error.message, /tls-certificate-name-mismatch/);
        assert.match(error.message, /other\.test/);
        assert.equal(resolver.stats.udpQueries + resolver.stats.tcpQueries, 0, "no plaintext query");
      });

      it("an untrusted certificate (no ca: the runtime's store) → tls-certificate-untrusted", async () => {
        await using resolver = make([transport.server(peer)], { ca: undefined });
        const error = await rejectsWith(resolver.resolve("a.unisock.test", "ipv4"), "temporary-resolver-failure");
        assert.match(error.message, /tls-certificate-untrusted/);
        assert.equal(resolver.stats.udpQueries + resolver.stats.tcpQueries, 0, "no plaintext query");
      });

      it("reconnects after the server closed the idle connection", async () => {
        await using resolver = make([transport.server(closing)], { cacheSize: 0 });
        const before = encryptedCounters.connections;
        assert.deepEqual(await resolver.resolve("a.unisock.test", "ipv4"), ["203.0.113.1"]);
        await new Promise((resolve) => setTimeout(resolve, 700));
        assert.deepEqual(await resolver.resolve("both.unisock.test", "ipv4"), ["203.0.113.2"]);
        assert.equal(encryptedCounters.connections - before, 2, "a second connection after the server closed the first");
      });

      it("200 names at once over one connection", async () => {
        await using resolver = make([transport.server(peer)]);
        const before = encryptedCounters.connections;
        const names = Array.from({ length: 200 }, (_, i) => `n${i}.unisock.test`);
        const answers = await Promise.all(names.map((name) => resolver.resolve(name, "ipv4")));
        answers.forEach((answer, i) => assert.deepEqual(answer, [`198.51.100.${i + 1}`]));
        assert.equal(encryptedCounters.connections - before, 1);
      });

      it("a server that is down → temporary-resolver-failure; the next server is asked", async () => {
        const port = await freeTcpUdpPort();
        const down = transport.server({ ...peer, tlsPort: port, httpsPort: port });
        await using alone = make([down]);
        const error = await rejectsWith(alone.resolve("a.unisock.test", "ipv4"), "temporary-resolver-failure");
        assert.match(error.message, /connection-refused/);
        await using resolver = make([down, transport.server(peer)]);
        assert.deepEqual(await resolver.resolve("a.unisock.test", "ipv4"), ["203.0.113.1"]);
      });

      it("close() releases the connection; the resolver still works after", async () => {
        const resolver = make([transport.server(peer)], { cacheSize: 0 });
        assert.deepEqual(await resolver.resolve("a.unisock.test", "ipv4"), ["203.0.113.1"]);
        await resolver.close();
        assert.deepEqual(await resolver.resolve("a.unisock.test", "ipv4"), ["203.0.113.1"]);
        await resolver.close();
      });
    });
  }
});

describe("DNS over TLS: a query in flight when the server closes is asked again on a new connection", () => {
  it("the first connection closes after reading the query; the second answers", async () => {
    const certificates = await testCertificates();
    const listener = await tcp.listen({ hostname: "127.0.0.1", port: 0, tls: { cert: certificates.server.cert, key: certificates.server.key } });
    let accepted = 0;
    const sessions: Promise<void>[] = [];
    const serving = (async () => {
      for await (const conn of listener) {
        const index = accepted++;
        sessions.push((async () => {
          const frames = new TcpFrameReader();
          const buffer = new Uint8Array(4096);
          try {
            for (;;) {
              const count = await conn.read(buffer);
              if (count === null) return;
              for (const frame of frames.push(buffer.subarray(0, count))) {
                // The first connection takes the query and closes without an answer.
                if (index === 0) return;
                const query = dnsPacket.decode(Buffer.from(frame));
                const answer = dnsPacket.encode({
                  type: "response",
                  id: query.id,
                  flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
                  questions: query.questions,
                  answers: [{ type: "A", name: query.questions![0].name, ttl: 60, data: "192.0.2.99" }],
                });
                await conn.write(frameForTcp(new Uint8Array(answer)));
              }
            }
          } catch {
            // the client went away
          } finally {
            conn.close();
          }
        })());
      }
    })();
    try {
      await using resolver = new WireResolver({
        nameservers: [`tls://127.0.0.1:${listener.localAddress.port}#localhost`],
        hosts: {},
        search: [],
        timeout: 3000,
        attempts: 1,
        ca: certificates.ca.cert,
      }, networks()[0].driver);
      const before = encryptedCounters.connections;
      assert.deepEqual(await resolver.resolve("x.test", "ipv4"), ["192.0.2.99"]);
      assert.equal(encryptedCounters.connections - before, 2);
      assert.equal(accepted, 2);
    } finally {
      listener.close();
      await serving;
      await Promise.all(sessions);
    }
  });
});
