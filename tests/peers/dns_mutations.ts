/**
 * Seeded, reproducible hostile DNS replies for fuzzing the wire resolver's decode path:
 * valid replies mutated (bytes overwritten, bits flipped, cut short, spliced) and, one case
 * in ten, random bytes behind a plausible header. The same seed gives the same cases.
 */
import dnsPacket from "dns-packet";
import { SocketError } from "../../core/errors.ts";
import { decodeResponse } from "../../resolve/wire/packet.ts";

/** mulberry32: a small seeded PRNG; `random(below)` gives 0 ≤ n < below. */
export function seededRandom(seed: number): (below: number) => number {
  let state = seed | 0;
  return (below) => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % below;
  };
}

/** The `count` cases made from `bases` with `seed`, each with its index. */
export function* hostileReplies(bases: readonly Uint8Array[], count: number, seed: number): Generator<Uint8Array> {
  const random = seededRandom(seed);
  for (let i = 0; i < count; i++) {
    if (i % 10 === 9) {
      // Random bytes after a response header with small counts.
      const bytes = new Uint8Array(12 + random(300));
      for (let b = 0; b < bytes.length; b++) bytes[b] = random(256);
      bytes[2] |= 0x80;
      for (const at of [5, 7, 9, 11]) bytes[at] = random(4);
      bytes[4] = bytes[6] = bytes[8] = bytes[10] = 0;
      yield bytes;
      continue;
    }
    let bytes = Uint8Array.from(bases[i % bases.length]);
    for (let m = 1 + random(3); m > 0 && bytes.length > 0; m--) {
      switch (random(4)) {
        case 0: // overwrite a byte
          bytes[random(bytes.length)] = random(256);
          break;
        case 1: // flip one bit
          bytes[random(bytes.length)] ^= 1 << random(8);
          break;
        case 2: // cut short
          bytes = bytes.slice(0, random(bytes.length + 1));
          break;
        default: { // copy a slice of itself over another place, or delete a slice
          const from = random(bytes.length + 1);
          const length = random(bytes.length - from + 1);
          const to = random(bytes.length + 1);
          bytes = random(2) === 0
            ? Uint8Array.from([...bytes.slice(0, to), ...bytes.slice(from, from + length), ...bytes.slice(to)])
            : Uint8Array.from([...bytes.slice(0, from), ...bytes.slice(from + length)]);
        }
      }
    }
    yield bytes;
  }
}

/** What one case came to: decoded (with sane A/AAAA data), or refused as malformed. Anything else throws. */
export function decodeHostile(bytes: Uint8Array): "decoded" | "refused" {
  try {
    const response = decodeResponse(bytes, "fuzz.example");
    for (const record of response.records) {
      if (record.type === "A" && !/^\d+\.\d+\.\d+\.\d+$/.test(record.data)) throw new Error(`bad A data ${record.data}`);
      if (record.type === "AAAA" && !record.data.includes(":")) throw new Error(`bad AAAA data ${record.data}`);
    }
    return "decoded";
  } catch (error) {
    if (error instanceof SocketError && error.code === "permanent-resolver-failure") return "refused";
    throw error;
  }
}

/** A reply with name compression (pointers into the question and into RDATA): CNAME, A, AAAA, SOA, OPT. */
const COMPRESSED_REPLY =
  "42428180000100030001000103575757074578616d706c6503434f4d0000010001c00c000500010000003c00070445646765c010" +
  "c02d000100010000003c0004c0000201c02d001c00010000003c001020010db8000000000000000000000001c010000600010000" +
  "003c0018c010c010000000010000000200000003000000040000001e00002904d0000000000000";

/** Valid replies to mutate: a compressed one, and one with CNAME, AAAA, TXT, MX and an EDNS option. */
export function fuzzBases(): Uint8Array[] {
  const compressed = Uint8Array.from(COMPRESSED_REPLY.match(/../g) ?? [], (pair) => parseInt(pair, 16));
  const rich = dnsPacket.encode({
    type: "response",
    id: 5,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
    questions: [{ type: "AAAA", name: "a.example" }],
    answers: [
      { type: "CNAME", name: "a.example", ttl: 1, data: "b.example" },
      { type: "AAAA", name: "b.example", ttl: 2, data: "2001:db8::2" },
      { type: "TXT", name: "b.example", ttl: 2, data: ["x", "yz"] },
      { type: "MX", name: "b.example", ttl: 2, data: { preference: 5, exchange: "mx.example" } },
    ],
    additionals: [{ type: "OPT", name: ".", udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [{ code: 12, length: 3 }] }],
  });
  return [compressed, Uint8Array.from(rich)];
}
