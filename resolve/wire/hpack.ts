/**
 * The HPACK header decoding (RFC 7541) that DNS over HTTPS (`./doh.ts`) needs to read an
 * HTTP/2 server's response headers: the static and dynamic tables, integers, literal
 * strings and Huffman-coded ones. The requests it sends use no Huffman code and no
 * dynamic table (`encodeLiteral`), so the server's table size is never needed.
 *
 * @module
 */

const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

/** The Huffman code of each symbol 0 to 256 (RFC 7541 Appendix B): bit length, code. */
const HUFFMAN: readonly number[] = [
  13, 0x1ff8, 23, 0x7fffd8, 28, 0xfffffe2, 28, 0xfffffe3, 28, 0xfffffe4, 28, 0xfffffe5, 28, 0xfffffe6, 28, 0xfffffe7,
  28, 0xfffffe8, 24, 0xffffea, 30, 0x3ffffffc, 28, 0xfffffe9, 28, 0xfffffea, 30, 0x3ffffffd, 28, 0xfffffeb, 28, 0xfffffec,
  28, 0xfffffed, 28, 0xfffffee, 28, 0xfffffef, 28, 0xffffff0, 28, 0xffffff1, 28, 0xffffff2, 30, 0x3ffffffe, 28, 0xffffff3,
  28, 0xffffff4, 28, 0xffffff5, 28, 0xffffff6, 28, 0xffffff7, 28, 0xffffff8, 28, 0xffffff9, 28, 0xffffffa, 28, 0xffffffb,
  6, 0x14, 10, 0x3f8, 10, 0x3f9, 12, 0xffa, 13, 0x1ff9, 6, 0x15, 8, 0xf8, 11, 0x7fa,
  10, 0x3fa, 10, 0x3fb, 8, 0xf9, 11, 0x7fb, 8, 0xfa, 6, 0x16, 6, 0x17, 6, 0x18,
  5, 0x0, 5, 0x1, 5, 0x2, 6, 0x19, 6, 0x1a, 6, 0x1b, 6, 0x1c, 6, 0x1d,
  6, 0x1e, 6, 0x1f, 7, 0x5c, 8, 0xfb, 15, 0x7ffc, 6, 0x20, 12, 0xffb, 10, 0x3fc,
  13, 0x1ffa, 6, 0x21, 7, 0x5d, 7, 0x5e, 7, 0x5f, 7, 0x60, 7, 0x61, 7, 0x62,
  7, 0x63, 7, 0x64, 7, 0x65, 7, 0x66, 7, 0x67, 7, 0x68, 7, 0x69, 7, 0x6a,
  7, 0x6b, 7, 0x6c, 7, 0x6d, 7, 0x6e, 7, 0x6f, 7, 0x70, 7, 0x71, 7, 0x72,
  8, 0xfc, 7, 0x73, 8, 0xfd, 13, 0x1ffb, 19, 0x7fff0, 13, 0x1ffc, 14, 0x3ffc, 6, 0x22,
  15, 0x7ffd, 5, 0x3, 6, 0x23, 5, 0x4, 6, 0x24, 5, 0x5, 6, 0x25, 6, 0x26,
  6, 0x27, 5, 0x6, 7, 0x74, 7, 0x75, 6, 0x28, 6, 0x29, 6, 0x2a, 5, 0x7,
  6, 0x2b, 7, 0x76, 6, 0x2c, 5, 0x8, 5, 0x9, 6, 0x2d, 7, 0x77, 7, 0x78,
  7, 0x79, 7, 0x7a, 7, 0x7b, 15, 0x7ffe, 11, 0x7fc, 14, 0x3ffd, 13, 0x1ffd, 28, 0xffffffc,
  20, 0xfffe6, 22, 0x3fffd2, 20, 0xfffe7, 20, 0xfffe8, 22, 0x3fffd3, 22, 0x3fffd4, 22, 0x3fffd5, 23, 0x7fffd9,
  22, 0x3fffd6, 23, 0x7fffda, 23, 0x7fffdb, 23, 0x7fffdc, 23, 0x7fffdd, 23, 0x7fffde, 24, 0xffffeb, 23, 0x7fffdf,
  24, 0xffffec, 24, 0xffffed, 22, 0x3fffd7, 23, 0x7fffe0, 24, 0xffffee, 23, 0x7fffe1, 23, 0x7fffe2, 23, 0x7fffe3,
  23, 0x7fffe4, 21, 0x1fffdc, 22, 0x3fffd8, 23, 0x7fffe5, 22, 0x3fffd9, 23, 0x7fffe6, 23, 0x7fffe7, 24, 0xffffef,
  22, 0x3fffda, 21, 0x1fffdd, 20, 0xfffe9, 22, 0x3fffdb, 22, 0x3fffdc, 23, 0x7fffe8, 23, 0x7fffe9, 21, 0x1fffde,
  23, 0x7fffea, 22, 0x3fffdd, 22, 0x3fffde, 24, 0xfffff0, 21, 0x1fffdf, 22, 0x3fffdf, 23, 0x7fffeb, 23, 0x7fffec,
  21, 0x1fffe0, 21, 0x1fffe1, 22, 0x3fffe0, 21, 0x1fffe2, 23, 0x7fffed, 22, 0x3fffe1, 23, 0x7fffee, 23, 0x7fffef,
  20, 0xfffea, 22, 0x3fffe2, 22, 0x3fffe3, 22, 0x3fffe4, 23, 0x7ffff0, 22, 0x3fffe5, 22, 0x3fffe6, 23, 0x7ffff1,
  26, 0x3ffffe0, 26, 0x3ffffe1, 20, 0xfffeb, 19, 0x7fff1, 22, 0x3fffe7, 23, 0x7ffff2, 22, 0x3fffe8, 25, 0x1ffffec,
  26, 0x3ffffe2, 26, 0x3ffffe3, 26, 0x3ffffe4, 27, 0x7ffffde, 27, 0x7ffffdf, 26, 0x3ffffe5, 24, 0xfffff1, 25, 0x1ffffed,
  19, 0x7fff2, 21, 0x1fffe3, 26, 0x3ffffe6, 27, 0x7ffffe0, 27, 0x7ffffe1, 26, 0x3ffffe7, 27, 0x7ffffe2, 24, 0xfffff2,
  21, 0x1fffe4, 21, 0x1fffe5, 26, 0x3ffffe8, 26, 0x3ffffe9, 28, 0xffffffd, 27, 0x7ffffe3, 27, 0x7ffffe4, 27, 0x7ffffe5,
  20, 0xfffec, 24, 0xfffff3, 20, 0xfffed, 21, 0x1fffe6, 22, 0x3fffe9, 21, 0x1fffe7, 21, 0x1fffe8, 23, 0x7ffff3,
  22, 0x3fffea, 22, 0x3fffeb, 25, 0x1ffffee, 25, 0x1ffffef, 24, 0xfffff4, 24, 0xfffff5, 26, 0x3ffffea, 23, 0x7ffff4,
  26, 0x3ffffeb, 27, 0x7ffffe6, 26, 0x3ffffec, 26, 0x3ffffed, 27, 0x7ffffe7, 27, 0x7ffffe8, 27, 0x7ffffe9, 27, 0x7ffffea,
  27, 0x7ffffeb, 28, 0xffffffe, 27, 0x7ffffec, 27, 0x7ffffed, 27, 0x7ffffee, 27, 0x7ffffef, 27, 0x7fffff0, 26, 0x3ffffee,
  30, 0x3fffffff,
];

/** The Huffman decoding tree: children of node N at 2N (bit 0) and 2N+1 (bit 1); a leaf is -1 - symbol. */
const TREE: Int32Array = buildTree();

function buildTree(): Int32Array {
  const tree = new Int32Array(2 * 512).fill(0);
  let nodes = 1;
  for (let symbol = 0; symbol < 257; symbol++) {
    const length = HUFFMAN[2 * symbol];
    const code = HUFFMAN[2 * symbol + 1];
    let node = 0;
    for (let bit = length - 1; bit >= 0; bit--) {
      const slot = 2 * node + ((code / 2 ** bit) & 1);
      if (bit === 0) tree[slot] = -1 - symbol;
      else {
        if (tree[slot] === 0) tree[slot] = nodes++;
        node = tree[slot];
      }
    }
  }
  return tree;
}

/**
 * A malformed header block: a COMPRESSION_ERROR of the whole connection (RFC 9113 §4.3).
 *
 * @example Telling it apart
 * ```ts
 * import { HpackDecoder, HpackError } from "./hpack.ts";
 * try {
 *   new HpackDecoder().decode(new Uint8Array([0xbe])); // index 62: the table is empty
 * } catch (error) {
 *   console.log(error instanceof HpackError); // true
 * }
 * ```
 */
export class HpackError extends Error {
  /** @param detail What is wrong. */
  constructor(detail: string) {
    super(`HPACK: ${detail}`);
    this.name = "HpackError";
  }
}

/**
 * Decodes a Huffman-coded string.
 *
 * @param bytes The coded octets.
 * @returns The text (octets as Latin-1).
 * @throws {HpackError} On EOS, or padding longer than 7 bits or not all ones.
 *
 * @example Using `decodeHuffman` (RFC 7541 C.4.1)
 * ```ts
 * import { decodeHuffman } from "./hpack.ts";
 * const coded = new Uint8Array([0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff]);
 * console.log(decodeHuffman(coded)); // www.example.com
 * ```
 */
export function decodeHuffman(bytes: Uint8Array): string {
  let text = "";
  let node = 0;
  let depth = 0;
  let ones = true;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    for (let bit = 7; bit >= 0; bit--) {
      const one = (byte >> bit) & 1;
      const next = TREE[2 * node + one];
      depth++;
      ones &&= one === 1;
      if (next < 0) {
        const symbol = -1 - next;
        if (symbol === 256) throw new HpackError("EOS in a string");
        text += String.fromCharCode(symbol);
        node = 0;
        depth = 0;
        ones = true;
      } else if (next === 0) throw new HpackError("invalid Huffman code");
      else node = next;
    }
  }
  if (depth > 7 || !ones) throw new HpackError("invalid Huffman padding");
  return text;
}

/**
 * A decoder of one connection's header blocks (its dynamic table lives across blocks).
 *
 * @example Using `HpackDecoder`
 * ```ts
 * import { HpackDecoder } from "./hpack.ts";
 * console.log(new HpackDecoder().decode(new Uint8Array([0x88]))); // [[":status", "200"]]
 * ```
 */
export class HpackDecoder {
  readonly #table: [string, string][] = [];
  #size = 0;
  #maxSize: number;
  readonly #limit: number;

  /** @param maxSize The table size this end allows (SETTINGS_HEADER_TABLE_SIZE, 4096 unless set). */
  constructor(maxSize = 4096) {
    this.#maxSize = maxSize;
    this.#limit = maxSize;
  }

  /**
   * Decodes one complete header block.
   *
   * @param block The block (the fragments of HEADERS and CONTINUATION frames joined).
   * @returns The header fields in order, names lower-case as sent.
   * @throws {HpackError} When the block is malformed.
   */
  decode(block: Uint8Array): [string, string][] {
    const fields: [string, string][] = [];
    const at = { offset: 0 };
    while (at.offset < block.length) {
      const byte = block[at.offset];
      if (byte & 0x80) {
        fields.push(this.#entry(this.#integer(block, at, 7)));
      } else if (byte & 0x40) {
        const field = this.#literal(block, at, 6);
        fields.push(field);
        this.#add(field);
      } else if (byte & 0x20) {
        // RFC 7541 §4.2: size updates only at the start of a block.
        if (fields.length > 0) throw new HpackError("a dynamic table size update after a header field");
        const size = this.#integer(block, at, 5);
        if (size > this.#limit) throw new HpackError(`table size ${size} over ${this.#limit}`);
        this.#maxSize = size;
        this.#evict(0);
      } else {
        fields.push(this.#literal(block, at, 4));
      }
    }
    return fields;
  }

  #integer(block: Uint8Array, at: { offset: number }, prefix: number): number {
    const mask = (1 << prefix) - 1;
    let value = block[at.offset++] & mask;
    if (value < mask) return value;
    for (let shift = 0; ; shift += 7) {
      if (at.offset >= block.length || shift > 28) throw new HpackError("truncated or oversized integer");
      const byte = block[at.offset++];
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
  }

  #string(block: Uint8Array, at: { offset: number }): string {
    if (at.offset >= block.length) throw new HpackError("truncated string");
    const huffman = (block[at.offset] & 0x80) !== 0;
    const length = this.#integer(block, at, 7);
    if (at.offset + length > block.length) throw new HpackError("truncated string");
    const bytes = block.subarray(at.offset, at.offset + length);
    at.offset += length;
    if (huffman) return decodeHuffman(bytes);
    let text = "";
    for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return text;
  }

  #literal(block: Uint8Array, at: { offset: number }, prefix: number): [string, string] {
    const index = this.#integer(block, at, prefix);
    const name = index === 0 ? this.#string(block, at) : this.#entry(index)[0];
    return [name, this.#string(block, at)];
  }

  #entry(index: number): [string, string] {
    if (index >= 1 && index <= STATIC_TABLE.length) {
      const [name, value] = STATIC_TABLE[index - 1];
      return [name, value];
    }
    const entry = this.#table[index - STATIC_TABLE.length - 1];
    if (entry === undefined) throw new HpackError(`no table entry ${index}`);
    return [entry[0], entry[1]];
  }

  #add(field: [string, string]): void {
    const size = field[0].length + field[1].length + 32;
    this.#evict(size);
    if (size <= this.#maxSize) {
      this.#table.unshift(field);
      this.#size += size;
    }
  }

  /** Drops the oldest entries until `room` more octets fit. */
  #evict(room: number): void {
    while (this.#table.length > 0 && this.#size + room > this.#maxSize) {
      const [name, value] = this.#table.pop()!;
      this.#size -= name.length + value.length + 32;
    }
  }
}

/**
 * Encodes one header field as a literal without indexing and without Huffman code
 * (RFC 7541 §6.2.2), its name from the static table when `nameIndex` is given.
 *
 * @param out Where to append the octets.
 * @param nameIndex The static table index of the name, or 0 to send `name`.
 * @param name The name (lower-case ASCII), used when `nameIndex` is 0.
 * @param value The value (ASCII).
 *
 * @example Using `encodeLiteral`
 * ```ts
 * import { encodeLiteral } from "./hpack.ts";
 * const out: number[] = [];
 * encodeLiteral(out, 19, "", "application/dns-message"); // accept
 * console.log(out.length); // 26
 * ```
 */
export function encodeLiteral(out: number[], nameIndex: number, name: string, value: string): void {
  encodeInteger(out, 0x00, 4, nameIndex);
  if (nameIndex === 0) encodeString(out, name);
  encodeString(out, value);
}

function encodeString(out: number[], text: string): void {
  encodeInteger(out, 0x00, 7, text.length);
  for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i) & 0xff);
}

function encodeInteger(out: number[], flags: number, prefix: number, value: number): void {
  const mask = (1 << prefix) - 1;
  if (value < mask) {
    out.push(flags | value);
    return;
  }
  out.push(flags | mask);
  let rest = value - mask;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}
