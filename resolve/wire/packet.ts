/**
 * The packet layer of the wire resolver: encode a query, decode a response strictly,
 * match a response to its query, and the 2-byte length framing of DNS over TCP.
 *
 * Decoding runs a structural pre-pass (`./validate.ts`) before `dns-packet`, and every
 * malformation, whichever layer finds it, becomes one `permanent-resolver-failure`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import dnsPacket from "dns-packet";
import { formatIpv6Bytes, parseIp } from "../../core/address.ts";
import { socketError } from "../../core/errors.ts";
import { MalformedMessage, scanMessage } from "./validate.ts";

/**
 * The record types the wire resolver asks for.
 *
 * @example Using `QueryType`
 * ```ts
 * import type { QueryType } from "./packet.ts";
 * const types: QueryType[] = ["AAAA", "A"];
 * console.log(types);
 * ```
 */
export type QueryType = "A" | "AAAA";

/** The EDNS0 UDP payload size to advertise: the DNS Flag Day 2020 value. */
const EDNS_UDP_PAYLOAD = 1232;
const MAX_NAME_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;
const MAX_TCP_MESSAGE = 0xffff;

/**
 * Encodes a recursive query (RD set) for one name and type, class IN. With `edns`, an
 * OPT record advertises a UDP payload size of 1232 octets. The name is checked first:
 * printable ASCII, no empty label, labels of at most 63 octets, at most 253 in all
 * (a trailing dot is allowed and dropped).
 *
 * @param id The query id, 0 to 65535.
 * @param name The name, already normalized (lower-case ASCII).
 * @param type `"A"` or `"AAAA"`.
 * @param edns Whether to add the EDNS0 OPT record.
 * @returns The message, ready for UDP (or {@linkcode frameForTcp}).
 * @throws {SocketError} `invalid-argument` for a bad id, type or name.
 *
 * @example Using `encodeQuery`
 * ```ts
 * import { encodeQuery } from "./packet.ts";
 * const query = encodeQuery(0x1234, "example.com", "AAAA", true);
 * console.log(query.length); // 40
 * ```
 */
export function encodeQuery(id: number, name: string, type: QueryType, edns: boolean): Uint8Array {
  if (!Number.isInteger(id) || id < 0 || id > 0xffff) throw invalidQuery(name, `query id ${id} is not an integer from 0 to 65535`);
  if (type !== "A" && type !== "AAAA") throw invalidQuery(name, `query type ${String(type)} is not A or AAAA`);
  if (typeof name !== "string") throw invalidQuery(name, "name is not a string");
  const length = name.length > 0 && name.charCodeAt(name.length - 1) === 0x2e ? name.length - 1 : name.length;
  if (length === 0) throw invalidQuery(name, "name is empty");
  for (let i = 0; i < length; i++) {
    const code = name.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) throw invalidQuery(name, "name is not printable ASCII");
  }
  if (length > MAX_NAME_LENGTH) throw invalidQuery(name, `name is longer than ${MAX_NAME_LENGTH} octets`);
  // Written straight into the message (what dns-packet would write, without its allocations):
  // header, the name's labels, type, class IN, then the OPT record.
  const questionEnd = HEADER_LENGTH + length + 2 + 4;
  const bytes = queryBytes(questionEnd + (edns ? OPT_RECORD.length : 0));
  bytes[0] = id >> 8;
  bytes[1] = id & 0xff;
  bytes[2] = 0x01; // RD
  bytes[5] = 1; // QDCOUNT
  if (edns) bytes[11] = 1; // ARCOUNT
  let labelAt = HEADER_LENGTH;
  for (let i = 0; i <= length; i++) {
    const code = i === length ? 0x2e : name.charCodeAt(i);
    if (code === 0x2e) {
      const labelLength = HEADER_LENGTH + i - labelAt;
      if (labelLength === 0) throw invalidQuery(name, "name has an empty label");
      if (labelLength > MAX_LABEL_LENGTH) throw invalidQuery(name, `a label is longer than ${MAX_LABEL_LENGTH} octets`);
      bytes[labelAt] = labelLength;
      labelAt = HEADER_LENGTH + i + 1;
      continue;
    }
    bytes[HEADER_LENGTH + i + 1] = code;
  }
  // The root label (0) is already there; then QTYPE and QCLASS IN.
  bytes[questionEnd - 3] = type === "A" ? 1 : 28;
  bytes[questionEnd - 1] = 1;
  if (edns) bytes.set(OPT_RECORD, questionEnd);
  return bytes;
}

/** Where queries are cut from: one ArrayBuffer for many queries, each a view of its own zeroed bytes, never reused. */
const SLAB_SIZE = 4096;
let slab = new Uint8Array(SLAB_SIZE);
let slabUsed = 0;

/** `size` zeroed bytes of their own, a view of the current slab (a fresh one when it is full). */
function queryBytes(size: number): Uint8Array {
  if (size > SLAB_SIZE) return new Uint8Array(size);
  if (slabUsed + size > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    slabUsed = 0;
  }
  const bytes = slab.subarray(slabUsed, slabUsed + size);
  slabUsed += size;
  return bytes;
}

function invalidQuery(name: unknown, detail: string): Error {
  return socketError("invalid-argument", "resolve", String(name), detail);
}

const HEADER_LENGTH = 12;
/** The EDNS0 OPT record: root name, type 41, class = UDP payload size, TTL 0 (version 0, no DO), no options. */
const OPT_RECORD = Uint8Array.of(0, 0, 41, EDNS_UDP_PAYLOAD >> 8, EDNS_UDP_PAYLOAD & 0xff, 0, 0, 0, 0, 0, 0);

/**
 * What the wire resolver needs from a response, checked and normalized.
 *
 * @example Using `DecodedResponse`
 * ```ts
 * import type { DecodedResponse } from "./packet.ts";
 * function addresses(response: DecodedResponse): string[] {
 *   return response.records.filter((r) => r.type !== "CNAME").map((r) => r.data);
 * }
 * console.log(typeof addresses);
 * ```
 */
export interface DecodedResponse {
  /** The message id. */
  id: number;
  /** The QR bit: true for a response, false for a query. */
  isResponse: boolean;
  /** The opcode as `dns-packet` names it: `"QUERY"` for the standard query. */
  opcode: string;
  /** `"NOERROR"`, `"NXDOMAIN"`, `"SERVFAIL"`, `"REFUSED"`, `"FORMERR"`, `"NOTIMP"`, or another `dns-packet` name. */
  rcode: string;
  /** The TC bit: the answer did not fit and should be asked again over TCP. */
  truncated: boolean;
  /** The first question: name lower-cased without the trailing dot; undefined if none. */
  question: { name: string; type: string; class: string } | undefined;
  /** The answer section's class IN A, AAAA and CNAME records, names lower-cased, addresses canonical. */
  records: { name: string; type: "A" | "AAAA" | "CNAME"; ttl: number; data: string }[];
  /** From the first SOA in the authority section: min(its TTL, its MINIMUM) (RFC 2308 §5); undefined if none. */
  negativeTtl: number | undefined;
}

/**
 * Decodes a response, strictly. A structural pre-pass checks the header counts, every
 * name (labels, length, compression pointers strictly backwards) and every record's
 * bounds and RDLENGTH before `dns-packet` decodes it. A well-formed response with the
 * TC bit set decodes like any other.
 *
 * @param bytes The message, without a TCP length prefix.
 * @param nameForMessages The name that was looked up, for the error message.
 * @returns The response.
 * @throws {SocketError} `permanent-resolver-failure` for every malformation, and nothing else.
 *
 * @example Using `decodeResponse`
 * ```ts
 * import { decodeResponse } from "./packet.ts";
 * try {
 *   decodeResponse(new Uint8Array(5), "example.com");
 * } catch (error) {
 *   console.log((error as Error).message); // resolve example.com: malformed DNS response: ...
 * }
 * ```
 */
export function decodeResponse(bytes: Uint8Array, nameForMessages: string): DecodedResponse {
  try {
    return decodeChecked(bytes, typeof nameForMessages === "string" ? nameForMessages : "");
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw socketError("permanent-resolver-failure", "resolve", String(nameForMessages), `malformed DNS response: ${detail}`, error);
  }
}

function decodeChecked(bytes: Uint8Array, name: string): DecodedResponse {
  const end = scanMessage(bytes);
  return decodeCommon(bytes, name) ?? decodeWithDnsPacket(bytes, end);
}

/**
 * Internal, for tests: decodes with `dns-packet` only (after the same pre-pass), never
 * with the fast path; both must give the same for every message the fast path takes.
 */
export function decodeResponseWithDnsPacket(bytes: Uint8Array, nameForMessages: string): DecodedResponse {
  try {
    return decodeWithDnsPacket(bytes, scanMessage(bytes));
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw socketError("permanent-resolver-failure", "resolve", String(nameForMessages), `malformed DNS response: ${detail}`, error);
  }
}

const TYPE_A = 1;
const TYPE_CNAME = 5;
const TYPE_SOA = 6;
const TYPE_AAAA = 28;
const TYPE_OPT = 41;
const RCODE_NAMES = [
  "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
  "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE_11", "RCODE_12", "RCODE_13", "RCODE_14", "RCODE_15",
];

/**
 * The fast path, for a message `scanMessage` has passed: what `dns-packet` would give, read
 * straight from the bytes, for the common shape of a reply: opcode QUERY, one question of
 * type A or AAAA and class IN, records of types A, AAAA, CNAME and SOA only, an OPT record
 * (its options skipped) in the additional section, and names in ASCII. Undefined for anything
 * else, which `dns-packet` then decodes. (Within that shape `dns-packet` cannot fail once
 * the pre-pass has passed, so there is nothing to refuse here.)
 */
function decodeCommon(bytes: Uint8Array, asked: string): DecodedResponse | undefined {
  if ((bytes[2] & 0x78) !== 0 || bytes[4] !== 0 || bytes[5] !== 1) return undefined;
  let at = HEADER_LENGTH;
  // The name asked for, when the question spells it (the usual reply): no string to make.
  // Otherwise read in lower case: one string, not one read and one lowered.
  const questionName = spellsName(bytes, at, asked) ? asked : readName(bytes, at, true);
  if (questionName === undefined) return undefined;
  at = skipName(bytes, at);
  const questionType = (bytes[at] << 8) | bytes[at + 1];
  if ((questionType !== TYPE_A && questionType !== TYPE_AAAA) || bytes[at + 2] !== 0 || bytes[at + 3] !== 1) return undefined;
  at += 4;
  // Made with its first record (most replies have one): an array grown by push holds 17.
  let records: DecodedResponse["records"] | undefined;
  let negativeTtl: number | undefined;
  const question = questionName === "." ? "" : questionName;
  for (let section = 0; section < 3; section++) {
    const count = (bytes[6 + 2 * section] << 8) | bytes[7 + 2 * section];
    for (let i = 0; i < count; i++) {
      const owner = at;
      at = skipName(bytes, at);
      const type = (bytes[at] << 8) | bytes[at + 1];
      const klass = (bytes[at + 2] << 8) | bytes[at + 3];
      const ttl = ((bytes[at + 4] << 24) | (bytes[at + 5] << 16) | (bytes[at + 6] << 8) | bytes[at + 7]) >>> 0;
      const rdlength = (bytes[at + 8] << 8) | bytes[at + 9];
      const rdata = at + 10;
      at = rdata + rdlength;
      if (type === TYPE_OPT) {
        // Its options (such as the Padding unbound adds over DoT, RFC 8467) are skipped when
        // they fill the record exactly; anything else goes to dns-packet.
        if (section !== 2) return undefined;
        let option = rdata;
        while (option + 4 <= at) option += 4 + ((bytes[option + 2] << 8) | bytes[option + 3]);
        if (option !== at) return undefined;
        continue;
      }
      if (type !== TYPE_A && type !== TYPE_AAAA && type !== TYPE_CNAME && type !== TYPE_SOA) return undefined;
      // Names are read even where unused: one outside ASCII sends the message to dns-packet.
      // An owner that points at the question's name (the usual answer) is that name.
      const atQuestion = bytes[owner] === 0xc0 && bytes[owner + 1] === HEADER_LENGTH;
      const name = atQuestion ? questionName : readName(bytes, owner);
      if (name === undefined) return undefined;
      const isIn = (klass & 0x7fff) === 1;
      if (type === TYPE_SOA) {
        if (readName(bytes, rdata) === undefined || readName(bytes, skipName(bytes, rdata)) === undefined) return undefined;
        if (section === 1 && isIn && negativeTtl === undefined) {
          const m = at - 4;
          const minimum = ((bytes[m] << 24) | (bytes[m + 1] << 16) | (bytes[m + 2] << 8) | bytes[m + 3]) >>> 0;
          negativeTtl = Math.min(clampTtl(ttl), clampTtl(minimum));
        }
        continue;
      }
      if (type === TYPE_CNAME) {
        const target = readName(bytes, rdata);
        if (target === undefined) return undefined;
        if (section === 0 && isIn) {
          const record: Answer = { name: atQuestion ? question : lowerName(name), type: "CNAME", ttl: clampTtl(ttl), data: lowerName(target) };
          if (records === undefined) records = [record];
          else records.push(record);
        }
        continue;
      }
      if (section !== 0 || !isIn) continue;
      const record: Answer = type === TYPE_A
        ? { name: atQuestion ? question : lowerName(name), type: "A", ttl: clampTtl(ttl), data: formatIpv4Bytes(bytes, rdata) }
        : { name: atQuestion ? question : lowerName(name), type: "AAAA", ttl: clampTtl(ttl), data: formatIpv6Bytes(bytes, rdata) };
      if (records === undefined) records = [record];
      else records.push(record);
    }
  }
  return {
    id: (bytes[0] << 8) | bytes[1],
    isResponse: (bytes[2] & 0x80) !== 0,
    opcode: "QUERY",
    rcode: RCODE_NAMES[bytes[3] & 0x0f],
    truncated: (bytes[2] & 0x02) !== 0,
    question: { name: question, type: questionType === TYPE_A ? "A" : "AAAA", class: "IN" },
    records: records ?? [],
    negativeTtl,
  };
}

/** One record of `DecodedResponse.records`. */
type Answer = DecodedResponse["records"][number];

/** The offset past the name at `at` where it sits (the pre-pass checked it). */
function skipName(bytes: Uint8Array, at: number): number {
  for (;;) {
    const length = bytes[at];
    if (length === 0) return at + 1;
    if ((length & 0xc0) === 0xc0) return at + 2;
    at += length + 1;
  }
}

/**
 * Whether the name at `at`, read as {@linkcode readName} does in lower case (labels joined
 * by dots), is `name`. Only plain labels (no pointer) and ASCII; false for anything else.
 */
function spellsName(bytes: Uint8Array, at: number, name: string): boolean {
  const length = name.length;
  if (length === 0) return false;
  let i = 0;
  for (;;) {
    const labelLength = bytes[at];
    if (labelLength === 0) return i === length;
    if (labelLength > 63) return false;
    if (i !== 0 && name.charCodeAt(i++) !== 0x2e) return false;
    if (i + labelLength > length) return false;
    for (let k = at + 1; k <= at + labelLength; k++) {
      const byte = bytes[k];
      if (byte > 0x7f) return false;
      if ((byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte) !== name.charCodeAt(i++)) return false;
    }
    at += labelLength + 1;
  }
}

/**
 * Arrays of character codes by their length (a name has at most 255 octets): a string is
 * made from the one of its exact length, filled in place, so the string is all that is new.
 */
const codesOfLength: number[][] = [];

function codesFor(length: number): number[] {
  let codes = codesOfLength[length];
  if (codes === undefined) codes = codesOfLength[length] = new Array<number>(length).fill(0);
  return codes;
}

/**
 * The name at `at` as dns-packet gives it (labels joined by dots, `.` for the root), with
 * A-Z lowered when `lower`; undefined when it is not ASCII.
 */
function readName(bytes: Uint8Array, at: number, lower = false): string | undefined {
  // Its length first (the pre-pass checked the name: pointers go strictly backwards).
  let length = 0;
  for (let p = at;;) {
    const labelLength = bytes[p];
    if (labelLength === 0) break;
    if ((labelLength & 0xc0) === 0xc0) {
      p = ((labelLength & 0x3f) << 8) | bytes[p + 1];
      continue;
    }
    length += length === 0 ? labelLength : labelLength + 1;
    p += labelLength + 1;
  }
  if (length === 0) return ".";
  const codes = codesFor(length);
  let written = 0;
  for (;;) {
    const labelLength = bytes[at];
    if (labelLength === 0) return String.fromCharCode.apply(null, codes);
    if ((labelLength & 0xc0) === 0xc0) {
      at = ((labelLength & 0x3f) << 8) | bytes[at + 1];
      continue;
    }
    if (written !== 0) codes[written++] = 0x2e;
    for (let i = at + 1; i <= at + labelLength; i++) {
      const byte = bytes[i];
      if (byte > 0x7f) return undefined;
      codes[written++] = lower && byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte;
    }
    at += labelLength + 1;
  }
}

/** The dotted quad of the 4 bytes at `at`, as one string (a template literal makes one per part). */
function formatIpv4Bytes(bytes: Uint8Array, at: number): string {
  let length = 3;
  for (let i = at; i < at + 4; i++) {
    const byte = bytes[i];
    length += byte >= 100 ? 3 : byte >= 10 ? 2 : 1;
  }
  const codes = codesFor(length);
  let written = 0;
  for (let i = at; i < at + 4; i++) {
    if (i !== at) codes[written++] = 0x2e;
    const byte = bytes[i];
    if (byte >= 100) codes[written++] = 0x30 + ((byte / 100) | 0);
    if (byte >= 10) codes[written++] = 0x30 + (((byte / 10) | 0) % 10);
    codes[written++] = 0x30 + (byte % 10);
  }
  return String.fromCharCode.apply(null, codes);
}

function decodeWithDnsPacket(bytes: Uint8Array, end: number): DecodedResponse {
  const packet = dnsPacket.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  // dns-packet advances by what it parsed for some types; after the pre-pass it must agree.
  if (dnsPacket.decode.bytes !== end) throw new MalformedMessage(`records end at ${dnsPacket.decode.bytes}, not ${end}`);
  const header = packet as dnsPacket.DecodedPacket & { rcode?: unknown; opcode?: unknown };
  const first = packet.questions?.[0];
  const records: DecodedResponse["records"] = [];
  for (const record of packet.answers ?? []) {
    if (record.type !== "A" && record.type !== "AAAA" && record.type !== "CNAME") continue;
    if (record.class !== "IN") continue;
    const ttl = clampTtl(record.ttl);
    if (record.type === "CNAME") {
      records.push({ name: lowerName(record.name), type: "CNAME", ttl, data: lowerName(record.data) });
      continue;
    }
    const ip = parseIp(record.data);
    if (ip === undefined || ip.family !== (record.type === "A" ? "ipv4" : "ipv6")) {
      throw new MalformedMessage(`${record.type} record holds no ${record.type === "A" ? "IPv4" : "IPv6"} address`);
    }
    records.push({ name: lowerName(record.name), type: record.type, ttl, data: ip.address });
  }
  let negativeTtl: number | undefined;
  for (const record of packet.authorities ?? []) {
    if (record.type !== "SOA" || record.class !== "IN") continue;
    negativeTtl = Math.min(clampTtl(record.ttl), clampTtl(record.data.minimum));
    break;
  }
  return {
    id: packet.id ?? 0,
    isResponse: header.flag_qr,
    opcode: typeof header.opcode === "string" ? header.opcode : "",
    rcode: typeof header.rcode === "string" ? header.rcode : `RCODE_${bytes[3] & 0x0f}`,
    truncated: header.flag_tc,
    question: first && { name: lowerName(first.name), type: first.type, class: first.class ?? "IN" },
    records,
    negativeTtl,
  };
}

/** A TTL with the top bit set counts as 0 (RFC 2181 §8). */
function clampTtl(ttl: number | undefined): number {
  return ttl === undefined || ttl > 0x7fffffff ? 0 : ttl;
}

/** ASCII-only lower case (DNS compares names case-insensitively in ASCII only), no trailing dot. */
function lowerName(name: string): string {
  let upper = false;
  let ascii = true;
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code > 0x7f) {
      ascii = false;
      break;
    }
    if (code >= 0x41 && code <= 0x5a) upper = true;
  }
  // On pure ASCII, toLowerCase lowers exactly A-Z; otherwise only A-Z may change.
  const lower = ascii
    ? (upper ? name.toLowerCase() : name)
    : name.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

/**
 * True when `response` answers exactly this query: same id, a response (QR set) with
 * opcode QUERY, and the same question: the name compared case-insensitively (ASCII)
 * ignoring a trailing dot, the same type, class IN.
 *
 * @param response A decoded response.
 * @param id The id the query was sent with.
 * @param name The name asked for.
 * @param type The type asked for.
 * @returns Whether to accept the response.
 *
 * @example Using `answersQuery`
 * ```ts
 * import { answersQuery, decodeResponse, encodeQuery } from "./packet.ts";
 * // Our own query echoed back is not an answer (no QR bit): keep waiting.
 * const echoed = decodeResponse(encodeQuery(0x1234, "example.com", "A", false), "example.com");
 * console.log(answersQuery(echoed, 0x1234, "example.com", "A")); // false
 * ```
 */
export function answersQuery(response: DecodedResponse, id: number, name: string, type: QueryType): boolean {
  const question = response.question;
  return response.id === id && response.isResponse && response.opcode === "QUERY" && question !== undefined &&
    question.name === lowerName(name) && question.type === type && question.class === "IN";
}

/**
 * Prefixes a message with its 2-byte length for DNS over TCP (RFC 1035 §4.2.2).
 *
 * @param message The DNS message, at most 65535 octets.
 * @returns A new array: length, then the message.
 * @throws {SocketError} `invalid-argument` for a message too long to frame.
 *
 * @example Using `frameForTcp`
 * ```ts
 * import { encodeQuery, frameForTcp } from "./packet.ts";
 * const framed = frameForTcp(encodeQuery(1, "example.com", "A", false));
 * console.log(framed[0] * 256 + framed[1] === framed.length - 2); // true
 * ```
 */
export function frameForTcp(message: Uint8Array): Uint8Array {
  if (message.length > MAX_TCP_MESSAGE) {
    throw socketError("invalid-argument", "resolve", "", `a DNS message of ${message.length} octets is too long for TCP`);
  }
  const framed = new Uint8Array(2 + message.length);
  framed[0] = message.length >> 8;
  framed[1] = message.length & 0xff;
  framed.set(message, 2);
  return framed;
}

/**
 * Cuts a DNS-over-TCP byte stream into messages: feed it chunks as they arrive, get
 * back the messages each chunk completed (without their length prefixes).
 *
 * @example Using `TcpFrameReader`
 * ```ts
 * import { TcpFrameReader } from "./packet.ts";
 * const reader = new TcpFrameReader();
 * console.log(reader.push(Uint8Array.of(0, 3, 1)).length); // 0: incomplete
 * console.log(reader.push(Uint8Array.of(2, 3, 0)));        // [Uint8Array [1, 2, 3]]
 * console.log(reader.buffered);                            // 1
 * ```
 */
export class TcpFrameReader {
  #pending: Uint8Array = new Uint8Array(0);

  /** How many received octets are not yet part of a complete message. */
  get buffered(): number {
    return this.#pending.length;
  }

  /**
   * Adds a chunk of the stream.
   *
   * @param chunk The bytes as received.
   * @returns The messages completed by this chunk, in order; each is a copy.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    let data = chunk;
    if (this.#pending.length > 0) {
      data = new Uint8Array(this.#pending.length + chunk.length);
      data.set(this.#pending);
      data.set(chunk, this.#pending.length);
    }
    const messages: Uint8Array[] = [];
    let offset = 0;
    while (data.length - offset >= 2) {
      const length = (data[offset] << 8) | data[offset + 1];
      if (data.length - offset - 2 < length) break;
      messages.push(data.slice(offset + 2, offset + 2 + length));
      offset += 2 + length;
    }
    this.#pending = data.slice(offset);
    return messages;
  }
}
