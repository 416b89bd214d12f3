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
  let offset = HEADER_OCTETS;
  for (let i = 0, n = (bytes[4] << 8) | bytes[5]; i < n; i++) {
    const where = i + 1;
    offset = need(bytes, skipName(bytes, offset, where), 4, where, "");
  }
  for (let section = 1; section <= 3; section++) {
    for (let i = 0, n = (bytes[4 + 2 * section] << 8) | bytes[5 + 2 * section]; i < n; i++) {
      offset = scanRecord(bytes, offset, section * WHERE_SECTION + i + 1);
    }
  }
  return offset;
}

/** Where in the message a check is: `section * WHERE_SECTION + index` (section 0: the questions), labelled only for an error. */
const WHERE_SECTION = 0x10000;

/** The text of `where` for an error message: `question 1`, `answer record 2`, ... */
function label(where: number): string {
  const section = Math.floor(where / WHERE_SECTION);
  const index = where % WHERE_SECTION;
  return section === 0 ? `question ${index}` : `${SECTIONS[section - 1]} record ${index}`;
}

/** Checks one resource record at `start`; returns the offset past its RDATA. */
function scanRecord(bytes: Uint8Array, start: number, where: number): number {
  const fixed = skipName(bytes, start, where);
  const rdataStart = need(bytes, fixed, 10, where, "");
  const type = (bytes[fixed] << 8) | bytes[fixed + 1];
  const rdlength = (bytes[fixed + 8] << 8) | bytes[fixed + 9];
  const end = rdataStart + rdlength;
  if (end > bytes.length) throw new MalformedMessage(`${label(where)} RDATA (RDLENGTH ${rdlength}) runs past the end of the message`);
  let parsedEnd = end;
  let shape = "";
  if (type === TYPE_A) {
    parsedEnd = rdataStart + 4;
    shape = "an IPv4 address (4)";
  } else if (type === TYPE_AAAA) {
    parsedEnd = rdataStart + 16;
    shape = "an IPv6 address (16)";
  } else if (NAME_ONLY_TYPES.has(type)) {
    parsedEnd = skipName(bytes, rdataStart, where);
    shape = "one name";
  } else if (type === TYPE_MX) {
    parsedEnd = skipName(bytes, need(bytes, rdataStart, 2, where, ""), where);
    shape = "preference and name";
  } else if (type === TYPE_SOA) {
    const afterNames = skipName(bytes, skipName(bytes, rdataStart, where), where);
    parsedEnd = need(bytes, afterNames, 20, where, "");
    shape = "two names and five counters";
  } else if (type === TYPE_OPT) {
    let option = rdataStart;
    while (option + 4 <= end) option += 4 + ((bytes[option + 2] << 8) | bytes[option + 3]);
    parsedEnd = option;
    shape = "its options";
  }
  if (parsedEnd !== end) throw new MalformedMessage(`${label(where)}: RDLENGTH ${rdlength} does not fit ${shape}`);
  return end;
}

/** `offset + length`, or throws when that runs past the end of the message (`suffix` follows the label in the message). */
function need(bytes: Uint8Array, offset: number, length: number, where: number, suffix: string): number {
  if (offset + length > bytes.length) throw new MalformedMessage(`${label(where)}${suffix} runs past the end of the message`);
  return offset + length;
}

/**
 * Walks the name at `start`: labels of at most 63 octets, at most 255 octets in all, and
 * compression pointers that point into the message (past the header) and strictly before
 * where the labels being read began. Each jump therefore lands strictly earlier than the
 * last, so a name cannot loop; the jump cap is a second guard. Returns the offset just
 * past the name where it sits (past its first pointer, if it has one).
 */
function skipName(bytes: Uint8Array, start: number, where: number): number {
  let offset = start;
  let runStart = start;
  let resume = -1;
  let octets = 0;
  for (let jumps = 0; ;) {
    if (offset >= bytes.length) throw new MalformedMessage(`${label(where)}: name runs past the end of the message`);
    const length = bytes[offset];
    const kind = length & 0xc0;
    if (kind === 0xc0) {
      if (offset + 1 >= bytes.length) throw new MalformedMessage(`${label(where)}: compression pointer cut short`);
      const target = ((length & 0x3f) << 8) | bytes[offset + 1];
      if (target >= bytes.length) throw new MalformedMessage(`${label(where)}: compression pointer past the end (${target})`);
      if (target >= runStart) throw new MalformedMessage(`${label(where)}: compression pointer to ${target} does not point backwards`);
      if (target < HEADER_OCTETS) throw new MalformedMessage(`${label(where)}: compression pointer into the header (${target})`);
      if (++jumps > MAX_JUMPS) throw new MalformedMessage(`${label(where)}: more than ${MAX_JUMPS} compression pointers`);
      if (resume < 0) resume = offset + 2;
      offset = runStart = target;
      continue;
    }
    // 0x40 and 0x80 are the obsolete extended and binary label types (RFC 6891 §5).
    if (kind !== 0) {
      throw new MalformedMessage(`${label(where)}: length byte 0x${length.toString(16)} is neither a label of at most 63 octets nor a pointer`);
    }
    octets += length + 1;
    if (octets > MAX_NAME_OCTETS) throw new MalformedMessage(`${label(where)}: name longer than ${MAX_NAME_OCTETS} octets`);
    if (length === 0) return resume < 0 ? offset + 1 : resume;
    offset = need(bytes, offset + 1, length, where, ": label");
  }
}
