import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, it } from "node:test";
import dnsPacket from "dns-packet";
import { SocketError } from "../core/errors.ts";
import {
  answersQuery,
  decodeResponse,
  decodeResponseWithDnsPacket,
  encodeQuery,
  frameForTcp,
  TcpFrameReader,
} from "../resolve/wire/packet.ts";
import { rejectsWith } from "./helpers.ts";
import { decodeHostile, fuzzBases, hostileReplies } from "./peers/dns_mutations.ts";


const RD = dnsPacket.RECURSION_DESIRED;
const RA = dnsPacket.RECURSION_AVAILABLE;

/** A 12-byte header. */
function header(id: number, flags: number, qd: number, an: number, ns = 0, ar = 0): number[] {
  return [id >> 8, id & 0xff, flags >> 8, flags & 0xff, 0, qd, 0, an, 0, ns, 0, ar];
}

/** A name in wire form, uncompressed. */
function name(text: string): number[] {
  const bytes: number[] = [];
  for (const label of text.split(".")) bytes.push(label.length, ...[...label].map((c) => c.charCodeAt(0)));
  return [...bytes, 0];
}

/** type, class IN, TTL 60, RDLENGTH, RDATA. */
function rr(type: number, rdata: number[], rdlength = rdata.length): number[] {
  return [0, type, 0, 1, 0, 0, 0, 60, rdlength >> 8, rdlength & 0xff, ...rdata];
}

const QUESTION_A = [0, 1, 0, 1];
const RESPONSE = 0x8000 | RD | RA;

function encodeResponse(packet: dnsPacket.Packet): Uint8Array {
  return new Uint8Array(dnsPacket.encode({ type: "response", flags: RD | RA, ...packet }));
}

/** A good response with compression, a CNAME chain, A, AAAA, an SOA and an OPT record. */
function compressedResponse(): Uint8Array {
  const bytes = [
    ...header(0x4242, RESPONSE, 1, 3, 1, 1),
    ...name("WWW.Example.COM"), ...QUESTION_A, // question name at 12; "example.com" at 16
    0xc0, 12, ...rr(5, [4, ...[..."Edge"].map((c) => c.charCodeAt(0)), 0xc0, 16]), // CNAME → edge.example.com at 45
    0xc0, 45, ...rr(1, [192, 0, 2, 1]),
    0xc0, 45, ...rr(28, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
    0xc0, 16, ...rr(6, [0xc0, 16, 0xc0, 16, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 30]),
    0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0, // OPT, no options
  ];
  return Uint8Array.from(bytes);
}

function assertMalformed(bytes: Uint8Array, pattern?: RegExp): SocketError {
  try {
    decodeResponse(bytes, "www.example.com");
  } catch (error) {
    assert.ok(error instanceof SocketError, `not a SocketError: ${String(error)}`);
    assert.equal(error.code, "permanent-resolver-failure");
    assert.match(error.message, /^resolve www\.example\.com: malformed DNS response: /);
    if (pattern) assert.match(error.message, pattern);
    return error;
  }
  assert.fail("decoded a malformed response");
}

describe("dns packet: encodeQuery", () => {
  it("encodes a recursive query with EDNS0 (payload 1232)", () => {
    const bytes = encodeQuery(0xbeef, "www.example.com.", "AAAA", true);
    assert.ok(bytes instanceof Uint8Array);
    const packet = dnsPacket.decode(Buffer.from(bytes));
    assert.equal(packet.id, 0xbeef);
    assert.equal(packet.type, "query");
    assert.equal(packet.flag_rd, true);
    assert.deepEqual(packet.questions, [{ name: "www.example.com", type: "AAAA", class: "IN" }]);
    assert.equal(packet.answers?.length, 0);
    assert.equal(packet.additionals?.length, 1);
    const opt = packet.additionals?.[0];
    assert.equal(opt?.type, "OPT");
    if (opt?.type === "OPT") {
      assert.equal(opt.name, ".");
      assert.equal(opt.udpPayloadSize, 1232);
      assert.equal(opt.ednsVersion, 0);
      assert.equal(opt.flag_do, false);
    }
  });

  it("encodes without EDNS0", () => {
    const packet = dnsPacket.decode(Buffer.from(encodeQuery(1, "example.com", "A", false)));
    assert.deepEqual(packet.questions, [{ name: "example.com", type: "A", class: "IN" }]);
    assert.equal(packet.additionals?.length, 0);
    assert.equal(packet.flag_rd, true);
  });

  it("accepts a 63-octet label and a 253-octet name", () => {
    const long = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`;
    assert.equal(long.length, 253);
    const packet = dnsPacket.decode(Buffer.from(encodeQuery(2, long, "A", false)));
    assert.equal(packet.questions?.[0].name, long);
  });

  const invalid: [string, string, number?][] = [
    ["empty name", ""],
    ["only a dot", "."],
    ["empty label", "a..b"],
    ["leading dot", ".example.com"],
    ["64-octet label", `${"a".repeat(64)}.test`],
    ["254-octet name", `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(62)}`],
    ["non-ASCII name", "bücher.example"],
    ["space in a name", "a b.example"],
    ["id 65536", "example.com", 65536],
    ["id -1", "example.com", -1],
  ];
  for (const [label, text, id] of invalid) {
    it(`${label} → invalid-argument`, async () => {
      await rejectsWith(() => encodeQuery(id ?? 1, text, "A", true), "invalid-argument");
    });
  }
});

describe("dns packet: decodeResponse", () => {
  it("decodes an answer: CNAME chain, A, AAAA canonical, names lower-cased", () => {
    const bytes = encodeResponse({
      id: 0x4242,
      questions: [{ type: "A", name: "WWW.Example.COM" }],
      answers: [
        { type: "CNAME", name: "WWW.Example.COM", ttl: 300, data: "Edge.Example.NET" },
        { type: "CNAME", name: "edge.example.net", ttl: 200, data: "Host.CDN.Example." },
        { type: "A", name: "HOST.cdn.example", ttl: 60, data: "192.0.2.1" },
        { type: "AAAA", name: "host.cdn.example", ttl: 61, data: "2001:DB8:0:0::1" },
        { type: "TXT", name: "host.cdn.example", ttl: 61, data: "ignored" },
      ],
    });
    const response = decodeResponse(bytes, "www.example.com");
    assert.equal(response.id, 0x4242);
    assert.equal(response.isResponse, true);
    assert.equal(response.rcode, "NOERROR");
    assert.equal(response.truncated, false);
    assert.deepEqual(response.question, { name: "www.example.com", type: "A", class: "IN" });
    assert.deepEqual(response.records, [
      { name: "www.example.com", type: "CNAME", ttl: 300, data: "edge.example.net" },
      { name: "edge.example.net", type: "CNAME", ttl: 200, data: "host.cdn.example" },
      { name: "host.cdn.example", type: "A", ttl: 60, data: "192.0.2.1" },
      { name: "host.cdn.example", type: "AAAA", ttl: 61, data: "2001:db8::1" },
    ]);
    assert.equal(response.negativeTtl, undefined);
  });

  it("decodes compressed names (pointers into the question and into RDATA)", () => {
    const response = decodeResponse(compressedResponse(), "www.example.com");
    assert.deepEqual(response.question, { name: "www.example.com", type: "A", class: "IN" });
    assert.deepEqual(response.records, [
      { name: "www.example.com", type: "CNAME", ttl: 60, data: "edge.example.com" },
      { name: "edge.example.com", type: "A", ttl: 60, data: "192.0.2.1" },
      { name: "edge.example.com", type: "AAAA", ttl: 60, data: "2001:db8::1" },
    ]);
    assert.equal(response.negativeTtl, 30);
  });

  it("decodes the same whatever name is given for messages (the question's own, another, none)", () => {
    const expected = decodeResponse(compressedResponse(), "x.test");
    assert.deepEqual(expected, decodeResponseWithDnsPacket(compressedResponse(), "x.test"));
    for (const asked of ["www.example.com", "WWW.Example.COM", "www.example.com.", "www.example.co", "www.example.comm", "www", "", "é"]) {
      assert.deepEqual(decodeResponse(compressedResponse(), asked), expected, asked);
    }
    // A question outside ASCII goes to dns-packet, even when the name given spells it.
    const latin = Uint8Array.from([...header(7, RESPONSE, 1, 0), 1, 0xe9, 4, 0x74, 0x65, 0x73, 0x74, 0, ...QUESTION_A]);
    for (const asked of ["\u00e9.test", "x.test"]) {
      assert.deepEqual(decodeResponse(latin, asked), decodeResponseWithDnsPacket(latin, asked), asked);
    }
  });

  it("NXDOMAIN with an SOA: negativeTtl = min(SOA TTL, SOA minimum)", () => {
    const soa = (ttl: number, minimum: number): dnsPacket.Answer => ({
      type: "SOA",
      name: "example.com",
      ttl,
      data: { mname: "ns.example.com", rname: "hostmaster.example.com", serial: 1, refresh: 2, retry: 3, expire: 4, minimum },
    });
    const make = (ttl: number, minimum: number) =>
      encodeResponse({
        id: 7,
        flags: RD | RA | 3,
        questions: [{ type: "AAAA", name: "nope.example.com" }],
        authorities: [soa(ttl, minimum)],
      });
    const low = decodeResponse(make(900, 300), "nope.example.com");
    assert.equal(low.rcode, "NXDOMAIN");
    assert.deepEqual(low.records, []);
    assert.equal(low.negativeTtl, 300);
    assert.equal(decodeResponse(make(60, 300), "nope.example.com").negativeTtl, 60);
    // A TTL with the top bit set counts as 0 (RFC 2181 §8).
    assert.equal(decodeResponse(make(0x80000000, 300), "nope.example.com").negativeTtl, 0);
  });

  it("other rcodes by name", () => {
    for (const [code, text] of [[2, "SERVFAIL"], [5, "REFUSED"], [1, "FORMERR"], [4, "NOTIMP"]] as const) {
      const bytes = encodeResponse({ id: 1, flags: RD | RA | code, questions: [{ type: "A", name: "a.example" }] });
      assert.equal(decodeResponse(bytes, "a.example").rcode, text);
    }
  });

  it("TC bit: a well-formed truncated response decodes", () => {
    const bytes = encodeResponse({
      id: 9,
      flags: RD | RA | dnsPacket.TRUNCATED_RESPONSE,
      questions: [{ type: "A", name: "big.example" }],
    });
    const response = decodeResponse(bytes, "big.example");
    assert.equal(response.truncated, true);
    assert.deepEqual(response.records, []);
    const partial = encodeResponse({
      id: 9,
      flags: RD | RA | dnsPacket.TRUNCATED_RESPONSE,
      questions: [{ type: "A", name: "big.example" }],
      answers: [{ type: "A", name: "big.example", ttl: 5, data: "192.0.2.7" }],
    });
    assert.equal(decodeResponse(partial, "big.example").records.length, 1);
  });

  it("TC bit with counts larger than what is there is still malformed", () => {
    const bytes = Uint8Array.from([...header(9, RESPONSE | dnsPacket.TRUNCATED_RESPONSE, 1, 2), ...name("big.example"), ...QUESTION_A]);
    assertMalformed(bytes, /answer record 1/);
  });

  it("skips records of another class", () => {
    const bytes = encodeResponse({
      id: 3,
      questions: [{ type: "A", name: "a.example" }],
      answers: [
        { type: "A", name: "a.example", ttl: 5, class: "CH", data: "192.0.2.8" },
        { type: "A", name: "a.example", ttl: 5, data: "192.0.2.9" },
      ],
    });
    assert.deepEqual(decodeResponse(bytes, "a.example").records.map((r) => r.data), ["192.0.2.9"]);
  });
});

describe("dns packet: answersQuery", () => {
  const response = decodeResponse(
    encodeResponse({ id: 0x1111, questions: [{ type: "AAAA", name: "Mixed.Example.ORG" }] }),
    "mixed.example.org",
  );
  it("matches the same id, name (any case, trailing dot) and type", () => {
    assert.equal(answersQuery(response, 0x1111, "mixed.example.org", "AAAA"), true);
    assert.equal(answersQuery(response, 0x1111, "MIXED.example.org.", "AAAA"), true);
  });
  it("refuses a wrong id, name or type", () => {
    assert.equal(answersQuery(response, 0x1112, "mixed.example.org", "AAAA"), false);
    assert.equal(answersQuery(response, 0x1111, "other.example.org", "AAAA"), false);
    assert.equal(answersQuery(response, 0x1111, "mixed.example.org.evil", "AAAA"), false);
    assert.equal(answersQuery(response, 0x1111, "mixed.example.org", "A"), false);
  });
  it("refuses a query (QR clear), a response without a question, another class or opcode", () => {
    const asQuery = decodeResponse(encodeQuery(0x1111, "mixed.example.org", "AAAA", true), "mixed.example.org");
    assert.equal(asQuery.isResponse, false);
    assert.equal(answersQuery(asQuery, 0x1111, "mixed.example.org", "AAAA"), false);
    const noQuestion = decodeResponse(encodeResponse({ id: 0x1111 }), "mixed.example.org");
    assert.equal(answersQuery(noQuestion, 0x1111, "mixed.example.org", "AAAA"), false);
    const chaos = decodeResponse(
      encodeResponse({ id: 0x1111, questions: [{ type: "AAAA", name: "mixed.example.org", class: "CH" }] }),
      "mixed.example.org",
    );
    assert.equal(answersQuery(chaos, 0x1111, "mixed.example.org", "AAAA"), false);
    const notify = decodeResponse(
      encodeResponse({ id: 0x1111, flags: 4 << 11, questions: [{ type: "AAAA", name: "mixed.example.org" }] }),
      "mixed.example.org",
    );
    assert.equal(notify.opcode, "NOTIFY");
    assert.equal(answersQuery(notify, 0x1111, "mixed.example.org", "AAAA"), false);
  });
});

describe("dns packet: malformed responses → permanent-resolver-failure", () => {
  const question = [...name("www.example.com"), ...QUESTION_A];
  const withAnswer = (answer: number[], an = 1) => Uint8Array.from([...header(1, RESPONSE, 1, an), ...question, ...answer]);
  const cases: [string, Uint8Array, RegExp?][] = [
    ["empty", new Uint8Array(0), /12-byte header/],
    ["5 bytes", Uint8Array.of(0, 1, 0x81, 0x80, 0), /12-byte header/],
    ["header claims a question, none there", Uint8Array.from(header(1, RESPONSE, 1, 0)), /question 1/],
    ["header claims 1 answer, none there", withAnswer([]), /answer record 1/],
    ["question cut short after its name", Uint8Array.from([...header(1, RESPONSE, 1, 0), ...name("a.example"), 0, 1])],
    ["pointer to itself", Uint8Array.from([...header(1, RESPONSE, 1, 0), 0xc0, 12, ...QUESTION_A]), /backwards/],
    [
      "two pointers to each other",
      Uint8Array.from([...header(1, RESPONSE, 2, 0), 0xc0, 18, ...QUESTION_A, 0xc0, 12, ...QUESTION_A]),
      /backwards/,
    ],
    ["label then a pointer back to it", Uint8Array.from([...header(1, RESPONSE, 1, 0), 1, 0x61, 0xc0, 12, ...QUESTION_A]), /backwards/],
    ["forward pointer", withAnswer([0xc0, 40, ...rr(1, [192, 0, 2, 1]), ...name("x")]), /backwards/],
    ["pointer past the end", withAnswer([0xc0, 0xff, ...rr(1, [192, 0, 2, 1])]), /past the end/],
    ["pointer into the header", withAnswer([0xc0, 2, ...rr(1, [192, 0, 2, 1])]), /header/],
    ["pointer cut short", withAnswer([0xc0]), /cut short/],
    ["A with RDLENGTH 5", withAnswer([0xc0, 12, ...rr(1, [192, 0, 2, 1, 9])]), /RDLENGTH 5/],
    ["A with RDLENGTH 3", withAnswer([0xc0, 12, ...rr(1, [192, 0, 2])]), /RDLENGTH 3/],
    ["AAAA with RDLENGTH 4", withAnswer([0xc0, 12, ...rr(28, [192, 0, 2, 1])]), /RDLENGTH 4/],
    ["RDLENGTH past the end", withAnswer([0xc0, 12, ...rr(1, [192, 0, 2, 1], 400)]), /past the end/],
    ["record fixed fields cut short", withAnswer([0xc0, 12, 0, 1, 0, 1, 0]), /past the end/],
    ["CNAME whose name overruns RDLENGTH", withAnswer([0xc0, 12, ...rr(5, [1, 0x61, 0], 2), 0]), /one name/],
    ["CNAME with bytes after its name", withAnswer([0xc0, 12, ...rr(5, [1, 0x61, 0, 7])]), /one name/],
    ["SOA with a short RDATA", Uint8Array.from([...header(1, RESPONSE | 3, 1, 0, 1), ...question, 0xc0, 16, ...rr(6, [0, 0, 1, 2, 3])])],
    ["label of 64", Uint8Array.from([...header(1, RESPONSE, 1, 0), 64, ...new Array<number>(64).fill(0x61), 0, ...QUESTION_A]), /63 octets/],
    ["label type 0x80", Uint8Array.from([...header(1, RESPONSE, 1, 0), 0x81, 0x61, 0, ...QUESTION_A])],
    [
      "name of 257 octets",
      Uint8Array.from([...header(1, RESPONSE, 1, 0), ...name(new Array(4).fill("a".repeat(63)).join(".")), ...QUESTION_A]),
      /255 octets/,
    ],
    ["label past the end", Uint8Array.from([...header(1, RESPONSE, 1, 0), 9, 0x61])],
  ];
  for (const [label, bytes, pattern] of cases) {
    it(label, () => {
      assertMalformed(bytes, pattern);
    });
  }

  it("a label and a pointer to the previous record's label chain is fine (not a loop)", () => {
    // www.example.com at 12, then an answer named "x" + pointer to 12.
    const response = decodeResponse(withAnswer([1, 0x78, 0xc0, 12, ...rr(1, [192, 0, 2, 1])]), "www.example.com");
    assert.equal(response.records[0].name, "x.www.example.com");
  });

  it("10,000 seeded hostile replies: each decodes or is permanent-resolver-failure, nothing else", () => {
    const bases = fuzzBases();
    let decoded = 0;
    let refused = 0;
    let index = 0;
    for (const bytes of hostileReplies(bases, 10_000, 0x5eed1234)) {
      try {
        if (decodeHostile(bytes) === "decoded") decoded++;
        else refused++;
      } catch (error) {
        assert.fail(`case ${index} (seed 0x5eed1234) threw ${String(error)}`);
      }
      index++;
    }
    assert.equal(decoded + refused, 10_000);
    assert.ok(decoded > 100 && refused > 100, `decoded ${decoded}, refused ${refused}`);
  });
});

describe("dns packet: TCP framing", () => {
  it("frames with a 2-byte length", () => {
    const message = encodeQuery(1, "example.com", "A", false);
    const framed = frameForTcp(message);
    assert.equal(framed.length, message.length + 2);
    assert.equal((framed[0] << 8) | framed[1], message.length);
    assert.deepEqual(framed.subarray(2), message);
  });

  it("refuses a message longer than 65535 octets", async () => {
    await rejectsWith(() => frameForTcp(new Uint8Array(65536)), "invalid-argument");
    assert.equal(frameForTcp(new Uint8Array(65535)).length, 65537);
  });

  it("reassembles messages fed a byte at a time, and several in one chunk", () => {
    const one = encodeQuery(1, "one.example", "A", true);
    const two = encodeQuery(2, "two.example", "AAAA", false);
    const stream = Uint8Array.from([...frameForTcp(one), ...frameForTcp(two), ...frameForTcp(new Uint8Array(0))]);
    const reader = new TcpFrameReader();
    const messages: Uint8Array[] = [];
    for (const byte of stream) messages.push(...reader.push(Uint8Array.of(byte)));
    assert.deepEqual(messages, [one, two, new Uint8Array(0)]);
    assert.equal(reader.buffered, 0);
    const together = new TcpFrameReader();
    assert.deepEqual(together.push(stream.subarray(0, stream.length - 1)), [one, two]);
    assert.equal(together.buffered, 1);
    assert.deepEqual(together.push(stream.subarray(stream.length - 1)), [new Uint8Array(0)]);
  });
});
