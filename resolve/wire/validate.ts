/**
 * A structural pre-pass over a raw DNS message, run before `dns-packet` sees it.
 *
 * `dns-packet` is lenient: it reads an A record's four bytes whatever RDLENGTH says,
 * turns bytes missing at the end into `"undefined"` octets, and for several record
 * types advances by what it parsed rather than by RDLENGTH. This pass walks the header
 * counts, every name (labels, length, compression pointers) and every record's fixed
 * fields and RDATA bounds, so that whatever `dns-packet` is then given is well-formed.
 *
 * @module
 */

/**
 * Why a message is malformed: thrown by {@linkcode scanMessage}.
 *
 * @example Using `MalformedMessage`
 * ```ts
 * import { MalformedMessage, scanMessage } from "./validate.ts";
 * try {
 *   scanMessage(new Uint8Array(5));
 * } catch (error) {
 *   if (error instanceof MalformedMessage) console.log(error.message); // message shorter than its 12-byte header
 * }
 * ```
 */
export class MalformedMessage extends Error {
  /**
   * Makes the error.
   *
   * @param reason What is wrong, for the error message.
   */
  constructor(reason: string) {
    super(reason);
    this.name = "MalformedMessage";
  }
}

/** At most this many compression pointers in one name; strictly backward pointers end sooner anyway. */
const MAX_JUMPS = 128;
/** The longest name in wire form, root label included (RFC 1035 §3.1). */
const MAX_NAME_OCTETS = 255;
const HEADER_OCTETS = 12;

const TYPE_A = 1;
const TYPE_NS = 2;
const TYPE_CNAME = 5;
const TYPE_SOA = 6;
const TYPE_PTR = 12;
const TYPE_MX = 15;
const TYPE_AAAA = 28;
const TYPE_DNAME = 39;
const TYPE_OPT = 41;

/** Types whose RDATA is exactly one domain name. */
const NAME_ONLY_TYPES = new Set([TYPE_NS, TYPE_CNAME, TYPE_PTR, TYPE_DNAME]);

const SECTIONS = ["answer", "authority", "additional"] as const;

/**
 * Checks the structure of a whole DNS message and returns the offset just past its
 * last record. Bytes after that are not looked at.
 *
 * @param bytes The message, without any TCP length prefix.
 * @returns The end offset of the last record (or of the header, if there are none).
 * @throws {MalformedMessage} On the first structural error.
 *
 * @example Using `scanMessage`
 * ```ts
 * import { scanMessage } from "./validate.ts";
 * const header = new Uint8Array(12); // id 0, no questions, no records
 * console.log(scanMessage(header)); // 12
 * ```
 */
export function scanMessage(bytes: Uint8Array): number {
  if (bytes.length < HEADER_OCTETS) throw new MalformedMessage("message shorter than its 12-byte header");
  const count = (at: number) => (bytes[at] << 8) | bytes[at + 1];
  let offset = HEADER_OCTETS;
  for (let i = 0, n = count(4); i < n; i++) {
    offset = need(bytes, skipName(bytes, offset, `question ${i + 1}`), 4, `question ${i + 1}`);
  }
  for (const [index, section] of SECTIONS.entries()) {
    for (let i = 0, n = count(6 + 2 * index); i < n; i++) {
      offset = scanRecord(bytes, offset, `${section} record ${i + 1}`);
    }
  }
  return offset;
}

/** Checks one resource record at `start`; returns the offset past its RDATA. */
function scanRecord(bytes: Uint8Array, start: number, what: string): number {
  const fixed = skipName(bytes, start, what);
  const rdataStart = need(bytes, fixed, 10, what);
  const type = (bytes[fixed] << 8) | bytes[fixed + 1];
  const rdlength = (bytes[fixed + 8] << 8) | bytes[fixed + 9];
  const end = need(bytes, rdataStart, rdlength, `${what} RDATA (RDLENGTH ${rdlength})`);
  const exactly = (parsedEnd: number, shape: string) => {
    if (parsedEnd !== end) throw new MalformedMessage(`${what}: RDLENGTH ${rdlength} does not fit ${shape}`);
  };
  if (type === TYPE_A) exactly(rdataStart + 4, "an IPv4 address (4)");
  else if (type === TYPE_AAAA) exactly(rdataStart + 16, "an IPv6 address (16)");
  else if (NAME_ONLY_TYPES.has(type)) exactly(skipName(bytes, rdataStart, what), "one name");
  else if (type === TYPE_MX) exactly(skipName(bytes, need(bytes, rdataStart, 2, what), what), "preference and name");
  else if (type === TYPE_SOA) {
    const afterNames = skipName(bytes, skipName(bytes, rdataStart, what), what);
    exactly(need(bytes, afterNames, 20, what), "two names and five counters");
  } else if (type === TYPE_OPT) {
    let option = rdataStart;
    while (option + 4 <= end) option += 4 + ((bytes[option + 2] << 8) | bytes[option + 3]);
    exactly(option, "its options");
  }
  return end;
}

/** `offset + length`, or throws when that runs past the end of the message. */
function need(bytes: Uint8Array, offset: number, length: number, what: string): number {
  if (offset + length > bytes.length) throw new MalformedMessage(`${what} runs past the end of the message`);
  return offset + length;
}

/**
 * Walks the name at `start`: labels of at most 63 octets, at most 255 octets in all, and
 * compression pointers that point into the message (past the header) and strictly before
 * where the labels being read began. Each jump therefore lands strictly earlier than the
 * last, so a name cannot loop; the jump cap is a second guard. Returns the offset just
 * past the name where it sits (past its first pointer, if it has one).
 */
function skipName(bytes: Uint8Array, start: number, what: string): number {
  let offset = start;
  let runStart = start;
  let resume = -1;
  let octets = 0;
  for (let jumps = 0; ;) {
    if (offset >= bytes.length) throw new MalformedMessage(`${what}: name runs past the end of the message`);
    const length = bytes[offset];
    const kind = length & 0xc0;
    if (kind === 0xc0) {
      if (offset + 1 >= bytes.length) throw new MalformedMessage(`${what}: compression pointer cut short`);
      const target = ((length & 0x3f) << 8) | bytes[offset + 1];
      if (target >= bytes.length) throw new MalformedMessage(`${what}: compression pointer past the end (${target})`);
      if (target >= runStart) throw new MalformedMessage(`${what}: compression pointer to ${target} does not point backwards`);
      if (target < HEADER_OCTETS) throw new MalformedMessage(`${what}: compression pointer into the header (${target})`);
      if (++jumps > MAX_JUMPS) throw new MalformedMessage(`${what}: more than ${MAX_JUMPS} compression pointers`);
      if (resume < 0) resume = offset + 2;
      offset = runStart = target;
      continue;
    }
    // 0x40 and 0x80 are the obsolete extended and binary label types (RFC 6891 §5).
    if (kind !== 0) {
      throw new MalformedMessage(`${what}: length byte 0x${length.toString(16)} is neither a label of at most 63 octets nor a pointer`);
    }
    octets += length + 1;
    if (octets > MAX_NAME_OCTETS) throw new MalformedMessage(`${what}: name longer than ${MAX_NAME_OCTETS} octets`);
    if (length === 0) return resume < 0 ? offset + 1 : resume;
    offset = need(bytes, offset + 1, length, `${what}: label`);
  }
}
