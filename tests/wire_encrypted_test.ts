import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { after, before, describe, it } from "node:test";
import dnsPacket from "dns-packet";
import { SocketError } from "../core/errors.ts";
import type { Driver } from "../core/driver.ts";
import { parseServer } from "../resolve/wire/config.ts";
import type { EncryptedNameServer } from "../resolve/wire/config.ts";
import { dohChannel } from "../resolve/wire/doh.ts";
import { dotChannel } from "../resolve/wire/dot.ts";
import { encodePaddedQuery, encryptedCounters, padQuery } from "../resolve/wire/encrypted.ts";
import type { EncryptedChannel } from "../resolve/wire/encrypted.ts";
import { decodeHuffman, encodeLiteral, HpackDecoder, HpackError } from "../resolve/wire/hpack.ts";
import { encodeQuery, frameForTcp, TcpFrameReader } from "../resolve/wire/packet.ts";
import type { DecodedResponse } from "../resolve/wire/packet.ts";
import { tcp } from "../mod.ts";
import type { Connection } from "../mod.ts";
import { WireResolver } from "../resolve/wire/wire_resolver.ts";
import type { WireResolverOptions } from "../resolve/wire/options.ts";
import { networks, rejectsWith, within } from "./helpers.ts";
import { testCertificates } from "./peers/certs.ts";
import { h2Frame, joinFrames, startFakeH2 } from "./peers/fake_h2.ts";
import type { FakeH2Server, FakeH2Session, H2Frame } from "./peers/fake_h2.ts";
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

describe("DNS over HTTPS: HPACK (RFC 7541)", () => {
  const hex = (text: string) => new Uint8Array(text.match(/../g)!.map((pair) => parseInt(pair, 16)));

  it("decodes the RFC's request examples (C.3, no Huffman; C.4, Huffman), the dynamic table across blocks", () => {
    const plain = new HpackDecoder();
    assert.deepEqual(plain.decode(hex("828684410f7777772e6578616d706c652e636f6d")), [
      [":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"],
    ]);
    assert.deepEqual(plain.decode(hex("828684be58086e6f2d6361636865")), [
      [":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"], ["cache-control", "no-cache"],
    ]);
    const huffman = new HpackDecoder();
    assert.deepEqual(huffman.decode(hex("828684418cf1e3c2e5f23a6ba0ab90f4ff")), [
      [":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"],
    ]);
  });

  it("decodes the RFC's response examples with eviction (C.6, Huffman, table size 256)", () => {
    const decoder = new HpackDecoder(256);
    const first = decoder.decode(hex(
      "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
    ));
    assert.deepEqual(first, [[":status", "302"], ["cache-control", "private"], ["date", "Mon, 21 Oct 2013 20:13:21 GMT"], ["location", "https://www.example.com"]]);
    assert.deepEqual(decoder.decode(hex("4883640effc1c0bf")), [
      [":status", "307"], ["cache-control", "private"], ["date", "Mon, 21 Oct 2013 20:13:21 GMT"], ["location", "https://www.example.com"],
    ]);
  });

  it("refuses bad Huffman padding, EOS, and an index past the table", () => {
    assert.throws(() => decodeHuffman(hex("f1e3c2e5f23a6ba0ab90f400")), HpackError);
    assert.throws(() => decodeHuffman(hex("ffffffff")), HpackError);
    assert.throws(() => new HpackDecoder().decode(hex("be")), HpackError);
  });

  it("encodes literals without indexing that it decodes back", () => {
    const out: number[] = [];
    encodeLiteral(out, 4, "", `/dns-query?dns=${"A".repeat(200)}`);
    encodeLiteral(out, 0, "x-test", "1");
    assert.deepEqual(new HpackDecoder().decode(new Uint8Array(out)), [[":path", `/dns-query?dns=${"A".repeat(200)}`], ["x-test", "1"]]);
  });
});

describe("DNS over HTTPS: a TLS server that does not agree to HTTP/2", () => {
  it("→ temporary-resolver-failure naming ALPN, no plaintext query", async () => {
    const certificates = await testCertificates();
    const listener = await tcp.listen({ hostname: "127.0.0.1", port: 0, tls: { cert: certificates.server.cert, key: certificates.server.key } });
    const serving = (async () => {
      for await (const conn of listener) conn.close();
    })();
    try {
      await using resolver = new WireResolver({
        nameservers: [`https://127.0.0.1:${listener.localAddress.port}/dns-query#localhost`],
        hosts: {},
        search: [],
        timeout: 3000,
        attempts: 1,
        ca: certificates.ca.cert,
      }, networks()[0].driver);
      const error = await rejectsWith(resolver.resolve("a.unisock.test", "ipv4"), "temporary-resolver-failure");
      assert.match(error.message, /HTTP\/2 \(ALPN/);
      assert.equal(resolver.stats.udpQueries + resolver.stats.tcpQueries, 0);
    } finally {
      listener.close();
      await within(serving, "the listener's loop ending");
    }
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
  return networks().flatMap(({ name, driver }) => [
    {
      label: `DNS over TLS (${name} driver)`,
      driver,
      server: (p: UnboundPeer, name = "localhost") => `tls://${p.host}:${p.tlsPort}#${name}`,
    },
    {
      label: `DNS over HTTPS (${name} driver)`,
      driver,
      server: (p: UnboundPeer, name = "localhost") => `https://${p.host}:${p.httpsPort}${p.path}#${name}`,
    },
  ]);
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

/** A DNS-over-TLS server of the tests' own, on unisock's TLS listener. */
interface FakeDot {
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Stops listening and waits (bounded) for every connection to end. */
  close(): Promise<void>;
}

/**
 * Starts a DoT server on 127.0.0.1 that reads framed queries and asks `answer` about each
 * (its name and the index of its connection): true answers A 192.0.2.99, false leaves the
 * query unanswered and reads on, "close" closes the connection without an answer.
 */
async function startFakeDot(certificates: TestCertificates, answer: (name: string, connection: number) => boolean | "close"): Promise<FakeDot> {
  const listener = await tcp.listen({ hostname: "127.0.0.1", port: 0, tls: { cert: certificates.server.cert, key: certificates.server.key } });
  let accepted = 0;
  const sessions: Promise<void>[] = [];
  const session = async (conn: Connection, index: number): Promise<void> => {
    const frames = new TcpFrameReader();
    const buffer = new Uint8Array(4096);
    try {
      for (;;) {
        const count = await conn.read(buffer);
        if (count === null) return;
        for (const frame of frames.push(buffer.subarray(0, count))) {
          const query = dnsPacket.decode(Buffer.from(frame));
          const name = query.questions![0].name;
          const what = answer(name, index);
          if (what === "close") return;
          if (!what) continue;
          const response = dnsPacket.encode({
            type: "response",
            id: query.id,
            flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
            questions: query.questions,
            answers: [{ type: "A", name, ttl: 60, data: "192.0.2.99" }],
          });
          await conn.write(frameForTcp(new Uint8Array(response)));
        }
      }
    } catch {
      // the client went away
    } finally {
      conn.close();
    }
  };
  const serving = (async () => {
    for await (const conn of listener) sessions.push(session(conn, accepted++));
  })();
  return {
    port: listener.localAddress.port,
    get accepted() {
      return accepted;
    },
    async close() {
      listener.close();
      await within(serving, "the listener's loop ending");
      await within(Promise.all(sessions), "the server's sessions ending");
    },
  };
}

describe("DNS over TLS: a query in flight when the server closes is asked again on a new connection", () => {
  it("the first connection closes after reading the query; the second answers", async () => {
    const certificates = await testCertificates();
    // The first connection takes the query and closes without an answer.
    const server = await startFakeDot(certificates, (_name, connection) => connection > 0 || "close");
    try {
      await using resolver = new WireResolver({
        nameservers: [`tls://127.0.0.1:${server.port}#localhost`],
        hosts: {},
        search: [],
        timeout: 3000,
        attempts: 1,
        ca: certificates.ca.cert,
      }, networks()[0].driver);
      const before = encryptedCounters.connections;
      assert.deepEqual(await resolver.resolve("x.test", "ipv4"), ["192.0.2.99"]);
      assert.equal(encryptedCounters.connections - before, 2);
      assert.equal(server.accepted, 2);
    } finally {
      await server.close();
    }
  });
});

/**
 * Asks `channel` (T = 300 ms): a long query (6T), 24 silent ones (2T), a short one (T,
 * asked last of those) and 24 that the server answers (`ok<i>.test`, 30T). Checks that the
 * short one fails first, every unanswered one fails at its own deadline, and every
 * answered one succeeds; returns their answers, in order.
 */
async function checkDeadlines(channel: EncryptedChannel): Promise<DecodedResponse[]> {
  const T = 300;
  const ask = (name: string, timeoutMs: number) => channel.ask({ name, type: "A", timeoutMs, onDropped: () => {} });
  // The connection first: its handshake counts against the deadlines and could reorder them.
  await within(ask("okwarm.test", 30 * T), "the connection", 30 * T);
  const long = ask("long.test", 6 * T);
  const silent = Array.from({ length: 24 }, (_, i) => ask(`silent${i}.test`, 2 * T));
  const short = ask("short.test", T);
  const answered = Array.from({ length: 24 }, (_, i) => ask(`ok${i}.test`, 30 * T));
  const settled = (query: Promise<unknown>) => query.then(() => {}, () => {});
  const order = await within(Promise.race([
    settled(short).then(() => "short"),
    Promise.race(silent.map(settled)).then(() => "silent"),
    settled(long).then(() => "long"),
  ]), "a query settles", 30 * T);
  assert.equal(order, "short", "the query due first fails first, though asked after the others");
  for (const [query, timeout] of [[short, T], ...silent.map((query) => [query, 2 * T] as const), [long, 6 * T]] as const) {
    const error = await within(rejectsWith(query, "temporary-resolver-failure"), "every silent query settles", 30 * T);
    assert.match(error.message, new RegExp(`did not answer within ${timeout} ms`));
  }
  const responses = await within(Promise.all(answered), "the answered queries", 30 * T);
  assert.deepEqual(responses.map((response) => response.question?.name), answered.map((_, i) => `ok${i}.test`));
  return responses;
}

describe("DNS over TLS: a query waiting for the connection another query started", () => {
  it("fails at its own deadline, not at the end of the other's connect timeout", async () => {
    const certificates = await testCertificates();
    // Accepts and never answers the ClientHello: the handshake waits for the connect timeout.
    const listener = await tcp.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Connection[] = [];
    const serving = (async () => {
      for await (const conn of listener) held.push(conn);
    })();
    try {
      const channel = dotChannel({
        driver: networks()[0].driver,
        server: parseServer(`tls://127.0.0.1:${listener.localAddress.port}#localhost`) as EncryptedNameServer,
        ca: [certificates.ca.cert],
        onConnected: () => {},
      });
      const ask = (name: string, timeoutMs: number) => channel.ask({ name, type: "A", timeoutMs, onDropped: () => {} });
      const first = ask("first.test", 3000);
      const second = ask("second.test", 300);
      const settled = (query: Promise<unknown>) => query.then(() => {}, () => {});
      const order = await within(Promise.race([
        settled(second).then(() => "second"),
        settled(first).then(() => "first"),
      ]), "a query settles", 10_000);
      assert.equal(order, "second", "the query with the earlier deadline fails first");
      const error = await within(rejectsWith(second, "temporary-resolver-failure"), "the second query fails");
      assert.match(error.message, /did not answer within 300 ms/);
      await within(rejectsWith(first, "temporary-resolver-failure"), "the first query fails", 10_000);
      channel.close();
      await within(channel.closed, "the channel closes");
    } finally {
      listener.close();
      for (const conn of held) conn.close();
      await within(serving, "the listener's loop ending");
    }
  });
});

describe("DNS over TLS: many queries on one connection, some never answered", () => {
  it("each unanswered one fails at its own deadline (a shorter one asked later first), the window frees for the answered ones", async () => {
    const certificates = await testCertificates();
    const written: string[] = [];
    const server = await startFakeDot(certificates, (name) => {
      written.push(name);
      return name.startsWith("ok");
    });
    try {
      const channel = dotChannel({
        driver: networks()[0].driver,
        server: parseServer(`tls://127.0.0.1:${server.port}#localhost`) as EncryptedNameServer,
        ca: [certificates.ca.cert],
        onConnected: () => {},
      });
      // "long" and 15 of the silent ones fill the window (16 written and unanswered); the
      // rest wait behind them, "short" (asked last of the silent ones, due first) among them.
      const responses = await checkDeadlines(channel);
      assert.ok(responses.every((response) => response.rcode === "NOERROR"));
      assert.ok(!written.includes("short.test"), "a query that timed out waiting for the window is never written");
      channel.close();
      await within(channel.closed, "the channel closes");
    } finally {
      await server.close();
    }
    assert.equal(server.accepted, 1, "one connection for them all");
    assert.equal(written.filter((name) => /^ok\d/.test(name)).length, 24);
  });
});

describe("DNS over HTTPS against a misbehaving HTTP/2 server", () => {
  const HEADERS = 1, RST_STREAM = 3, SETTINGS = 4, PING = 6, GOAWAY = 7, CONTINUATION = 9;
  const END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4, PADDED = 0x8, PRIORITY = 0x20;
  let certificates: TestCertificates;
  before(async () => {
    certificates = await testCertificates();
  });

  const settings = (...entries: [number, number][]) =>
    h2Frame(SETTINGS, 0, 0, entries.flatMap(([key, value]) => [key >> 8, key & 0xff, value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]));
  /** Reads the client's frames up to its first request; null if the connection ended first. */
  const request = async (session: FakeH2Session): Promise<H2Frame | null> => {
    for (;;) {
      const frame = await session.next();
      if (frame === null || frame.type === HEADERS) return frame;
    }
  };
  /** Reads the client's frames to the end of the connection; the code of its GOAWAY, if any. */
  const goawayCode = async (session: FakeH2Session): Promise<number | undefined> => {
    let code: number | undefined;
    for (let frame = await session.next(); frame !== null; frame = await session.next()) {
      if (frame.type === GOAWAY) code = new DataView(frame.payload.buffer, frame.payload.byteOffset).getUint32(4);
    }
    return code;
  };
  /** A 200 answer of A 192.0.2.7 to `name` on stream `id`. */
  const answer = (id: number, name: string): Uint8Array[] => {
    const block = [0x88]; // :status 200
    encodeLiteral(block, 31, "", "application/dns-message");
    const message = dnsPacket.encode({
      type: "response",
      id: 0,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
      questions: [{ type: "A", name }],
      answers: [{ type: "A", name, ttl: 60, data: "192.0.2.7" }],
    });
    return [h2Frame(HEADERS, END_HEADERS, id, block), h2Frame(0, END_STREAM, id, new Uint8Array(message))];
  };
  const dohChannelTo = (server: FakeH2Server) =>
    dohChannel({
      driver: networks()[0].driver,
      server: parseServer(`https://127.0.0.1:${server.port}/dns-query#localhost`) as EncryptedNameServer,
      ca: [certificates.ca.cert],
      onConnected: () => {},
    });
  const resolverFor = (server: FakeH2Server, timeout = 5000) =>
    new WireResolver({
      nameservers: [`https://127.0.0.1:${server.port}/dns-query#localhost`],
      hosts: {},
      search: [],
      timeout,
      attempts: 1,
      ca: certificates.ca.cert,
    }, networks()[0].driver);

  it("a query waiting for a free stream rejects at its own deadline and never opens a stream (MAX_CONCURRENT_STREAMS 1, no answers)", async () => {
    let requests = 0;
    const server = await startFakeH2(certificates, async (session) => {
      await session.write(settings([3, 1]));
      for (let frame = await session.next(); frame !== null; frame = await session.next()) if (frame.type === HEADERS) requests++;
    });
    try {
      const channel = dohChannelTo(server);
      const T = 300;
      const ask = (name: string, timeoutMs: number) => channel.ask({ name, type: "A", timeoutMs, onDropped: () => {} });
      // The first takes the only stream for 3T; the other two wait for it, but only for T.
      const first = ask("first.test", 3 * T);
      const waiting = [ask("second.test", T), ask("third.test", T)];
      const order = await within(Promise.race([
        first.then(() => "first", () => "first"),
        Promise.allSettled(waiting).then(() => "waiting"),
      ]), "a query settles", 20 * T);
      assert.equal(order, "waiting", "the waiting queries settle before the one holding the stream");
      for (const query of [...waiting, first]) {
        const error = await within(rejectsWith(query, "temporary-resolver-failure"), "every query settles", 20 * T);
        assert.match(error.message, /did not answer within/);
      }
      channel.close();
      await within(channel.closed, "the channel closes", 5000);
    } finally {
      await within(server.close(), "the server stops", 5000);
    }
    assert.equal(requests, 1, "the waiting queries never opened a stream");
  });

  it("streams never answered: each fails at its own deadline and is reset (CANCEL); the answered ones succeed", async () => {
    const names = new Map<number, string>();
    const resets = new Map<number, number>();
    let ended!: () => void;
    const handled = new Promise<void>((resolve) => (ended = resolve));
    const server = await startFakeH2(certificates, async (session) => {
      try {
        await session.write(settings());
        const decoder = new HpackDecoder();
        for (let frame = await session.next(); frame !== null; frame = await session.next()) {
          if (frame.type === RST_STREAM) resets.set(frame.id, new DataView(frame.payload.buffer, frame.payload.byteOffset).getUint32(0));
          if (frame.type !== HEADERS) continue;
          const path = decoder.decode(frame.payload).find(([field]) => field === ":path")![1];
          const query = dnsPacket.decode(Buffer.from(path.slice(path.indexOf("dns=") + 4), "base64url"));
          const name = query.questions![0].name;
          names.set(frame.id, name);
          if (name.startsWith("ok")) await session.write(joinFrames(answer(frame.id, name)));
        }
      } finally {
        ended();
      }
    });
    try {
      const channel = dohChannelTo(server);
      await checkDeadlines(channel);
      channel.close();
      await within(channel.closed, "the channel closes", 5000);
      await within(handled, "the server reads to the end", 5000);
    } finally {
      await within(server.close(), "the server stops", 5000);
    }
    assert.equal(server.accepted, 1, "one connection for them all");
    const silentStreams = [...names].filter(([, name]) => !name.startsWith("ok")).map(([id]) => id).sort((a, b) => a - b);
    assert.equal(silentStreams.length, 26);
    assert.deepEqual([...resets.keys()].sort((a, b) => a - b), silentStreams, "every stream timed out is reset, and only those");
    assert.ok([...resets.values()].every((code) => code === 8), "with CANCEL");
  });

  it("CONTINUATION frames past 64 KiB of header block: the connection ends (ENHANCE_YOUR_CALM), the query fails", async () => {
    const codes: (number | undefined)[] = [];
    const server = await startFakeH2(certificates, async (session) => {
      await session.write(settings());
      const asked = await request(session);
      if (asked === null) return;
      // 1 + 4 × 16 KiB = 65537 octets of block and no END_HEADERS: without a cap the client would wait for more.
      const fragment = new Uint8Array(16_384);
      const frames = [h2Frame(HEADERS, 0, asked.id, [0x88]), ...Array.from({ length: 4 }, () => h2Frame(CONTINUATION, 0, asked.id, fragment))];
      await session.write(joinFrames(frames));
      codes.push(await goawayCode(session));
    });
    try {
      await using resolver = resolverFor(server);
      const error = await within(rejectsWith(resolver.resolve("x.test", "ipv4"), "temporary-resolver-failure"), "the query fails", 20_000);
      assert.match(error.message, /header block over 65536 octets/);
    } finally {
      await within(server.close(), "the server stops", 20_000);
    }
    assert.deepEqual(codes, [11, 11], "GOAWAY ENHANCE_YOUR_CALM on both connections (the query is asked once more)");
  });

  it("a flood of PINGs is answered once per read, with the last one's payload", async () => {
    const acks: number[] = [];
    const server = await startFakeH2(certificates, async (session) => {
      await session.write(settings());
      const asked = await request(session);
      if (asked === null) return;
      const pings = Array.from({ length: 200 }, (_, i) => h2Frame(PING, 0, 0, [0, 0, 0, 0, 0, 0, i >> 8, i & 0xff]));
      await session.write(joinFrames([...pings, ...answer(asked.id, "x.test")]));
      for (let frame = await session.next(); frame !== null; frame = await session.next()) {
        if (frame.type === PING && frame.flags & ACK) acks.push((frame.payload[6] << 8) | frame.payload[7]);
      }
    });
    try {
      const resolver = resolverFor(server);
      assert.deepEqual(await within(resolver.resolve("x.test", "ipv4"), "the answer", 10_000), ["192.0.2.7"]);
      await within(resolver.close(), "the resolver closes", 5000);
    } finally {
      await within(server.close(), "the server stops", 5000);
    }
    assert.ok(acks.length >= 1 && acks.length <= 20, `${acks.length} PING acknowledgements for 200 PINGs`);
    assert.equal(acks.at(-1), 199, "the last PING is the one answered");
  });

  it("a server that floods SETTINGS and never reads: the connection ends past 1 MiB not yet sent", async () => {
    const server = await startFakeH2(certificates, async (session) => {
      // 7282 empty SETTINGS a write, each to be acknowledged; at most 64 MiB a connection.
      const flood = joinFrames(Array.from({ length: 7282 }, () => h2Frame(SETTINGS, 0, 0)));
      for (let i = 0; i < 1024; i++) if (!(await session.write(flood))) return;
    });
    try {
      await using resolver = resolverFor(server, 60_000);
      const error = await within(rejectsWith(resolver.resolve("x.test", "ipv4"), "temporary-resolver-failure"), "the query fails", 60_000);
      assert.match(error.message, /that the server does not read/);
    } finally {
      await within(server.close(), "the server stops", 20_000);
    }
  });

  const malformed: [string, (stream: number) => Uint8Array, number][] = [
    ["PING of 7 octets", () => h2Frame(PING, 0, 0, [1, 2, 3, 4, 5, 6, 7]), 6],
    ["RST_STREAM of 3 octets", (id) => h2Frame(RST_STREAM, 0, id, [0, 0, 8]), 6],
    ["SETTINGS of 5 octets", () => h2Frame(SETTINGS, 0, 0, [0, 3, 0, 0, 1]), 6],
    ["SETTINGS on a stream", (id) => h2Frame(SETTINGS, 0, id, []), 1],
    ["HEADERS with PRIORITY and 3 octets", (id) => h2Frame(HEADERS, END_HEADERS | PRIORITY, id, [0, 0, 0]), 6],
    ["HEADERS PADDED and empty", (id) => h2Frame(HEADERS, END_HEADERS | PADDED, id, []), 6],
    ["HEADERS with padding longer than the frame", (id) => h2Frame(HEADERS, END_HEADERS | PADDED, id, [5, 0x88]), 1],
    ["HEADERS on stream 0", () => h2Frame(HEADERS, END_HEADERS | END_STREAM, 0, [0x88]), 1],
  ];
  for (const [what, bad, code] of malformed) {
    it(`${what} → GOAWAY ${code === 6 ? "FRAME_SIZE_ERROR" : "PROTOCOL_ERROR"}, the query fails`, async () => {
      const codes: (number | undefined)[] = [];
      const server = await startFakeH2(certificates, async (session) => {
        await session.write(settings());
        const asked = await request(session);
        if (asked === null) return;
        await session.write(bad(asked.id));
        codes.push(await goawayCode(session));
      });
      try {
        await using resolver = resolverFor(server);
        const error = await within(rejectsWith(resolver.resolve("x.test", "ipv4"), "temporary-resolver-failure"), "the query fails", 15_000);
        assert.match(error.message, code === 6 ? /FRAME_SIZE_ERROR/ : /PROTOCOL_ERROR/);
      } finally {
        await within(server.close(), "the server stops", 5000);
      }
      assert.deepEqual(codes, [code, code]);
    });
  }

  it("a query in flight when the resolver is closed fails, and opens no new connection", async () => {
    let asked!: () => void;
    const requested = new Promise<void>((resolve) => (asked = resolve));
    const server = await startFakeH2(certificates, async (session) => {
      await session.write(settings());
      if ((await request(session)) !== null) asked();
      while ((await session.next()) !== null);
    });
    try {
      const resolver = resolverFor(server);
      const query = resolver.resolve("x.test", "ipv4");
      await within(requested, "the request", 5000);
      await within(resolver.close(), "the resolver closes", 5000);
      const error = await within(rejectsWith(query, "temporary-resolver-failure"), "the query fails", 10_000);
      assert.match(error.message, /closed/);
    } finally {
      await within(server.close(), "the server stops", 5000);
    }
    assert.equal(server.accepted, 1);
  });
});

describe("encrypted transports: the connect timeout covers the lookup of the server's name", () => {
  for (const scheme of ["tls", "https"]) {
    it(`${scheme}:// with a driver whose lookup never answers → temporary-resolver-failure at the timeout`, async () => {
      const driver = networks()[0].driver;
      const hanging = new Proxy(driver, {
        get(target, key) {
          if (key === "lookup") return () => new Promise(() => {});
          const value = Reflect.get(target, key, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      await using resolver = new WireResolver({
        nameservers: [`${scheme}://dns.unisock.test/`.replace(/\/$/, scheme === "https" ? "/dns-query" : "")],
        hosts: {},
        search: [],
        timeout: 300,
        attempts: 1,
      }, hanging);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("no failure within 10 s")), 10_000)));
      try {
        const error = await Promise.race([rejectsWith(resolver.resolve("a.unisock.test", "ipv4"), "temporary-resolver-failure"), late]);
        assert.match(error.message, /within 300 ms/);
      } finally {
        clearTimeout(timer);
      }
    });
  }
});

describe("DNS over HTTPS: HPACK dynamic table size updates", () => {
  it("are accepted at the start of a block only (RFC 7541 §4.2)", () => {
    assert.deepEqual(new HpackDecoder().decode(new Uint8Array([0x20, 0x82])), [[":method", "GET"]]);
    assert.throws(() => new HpackDecoder().decode(new Uint8Array([0x82, 0x20])), HpackError);
  });
});
