/**
 * HTTP/2 frames (RFC 9113 §4, §6) as the DNS-over-HTTPS client (`./doh.ts`) writes and
 * checks them: the frame header, the frame types and flags it knows, the checks of the
 * frames it receives that end the connection (connection errors, §5.4.1), and small
 * byte helpers.
 *
 * @module
 */

/** Frame types (RFC 9113 §6). */
export const DATA = 0, HEADERS = 1, RST_STREAM = 3, SETTINGS = 4, PUSH_PROMISE = 5, PING = 6, GOAWAY = 7, WINDOW_UPDATE = 8, CONTINUATION = 9;
/** Frame flags (RFC 9113 §6). */
export const END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4, PADDED = 0x8, PRIORITY = 0x20;
/** Error codes (RFC 9113 §7). */
export const PROTOCOL_ERROR = 1, FRAME_SIZE_ERROR = 6, REFUSED_STREAM = 7, CANCEL = 8, COMPRESSION_ERROR = 9, ENHANCE_YOUR_CALM = 11;

const ERROR_NAMES: Record<number, string> = {
  [PROTOCOL_ERROR]: "PROTOCOL_ERROR",
  [FRAME_SIZE_ERROR]: "FRAME_SIZE_ERROR",
  [COMPRESSION_ERROR]: "COMPRESSION_ERROR",
  [ENHANCE_YOUR_CALM]: "ENHANCE_YOUR_CALM",
};

/**
 * A connection error (RFC 9113 §5.4.1): the connection ends with a GOAWAY of `code`.
 *
 * @example Using `H2Error`
 * ```ts
 * import { H2Error, PROTOCOL_ERROR } from "./h2_frames.ts";
 * console.log(new H2Error(PROTOCOL_ERROR, "HEADERS on stream 0").message); // "HEADERS on stream 0 (PROTOCOL_ERROR)"
 * ```
 */
export class H2Error extends Error {
  /** The GOAWAY error code. */
  readonly code: number;
  /**
   * @param code The error code.
   * @param detail What was wrong.
   */
  constructor(code: number, detail: string) {
    super(`${detail} (${ERROR_NAMES[code] ?? `error ${code}`})`);
    this.name = "H2Error";
    this.code = code;
  }
}

/**
 * Checks the shape of a received frame (its length, stream and flags against its type),
 * before its payload is looked at.
 *
 * @param type The frame type.
 * @param flags The flags.
 * @param id The stream ID.
 * @param payload The payload.
 * @throws {H2Error} A connection error.
 *
 * @example Using `checkFrame`
 * ```ts
 * import { checkFrame, SETTINGS } from "./h2_frames.ts";
 * checkFrame(SETTINGS, 0, 0, new Uint8Array(6)); // a well-formed SETTINGS: no error
 * ```
 */
export function checkFrame(type: number, flags: number, id: number, payload: Uint8Array): void {
  const length = payload.length;
  switch (type) {
    case DATA:
    case HEADERS: {
      const name = type === DATA ? "DATA" : "HEADERS";
      if (id === 0) throw new H2Error(PROTOCOL_ERROR, `${name} on stream 0`);
      let least = flags & PADDED ? 1 : 0;
      if (type === HEADERS && flags & PRIORITY) least += 5;
      if (length < least) throw new H2Error(FRAME_SIZE_ERROR, `a ${name} frame of ${length} octets with flags 0x${flags.toString(16)}`);
      if (flags & PADDED && payload[0] > length - least) throw new H2Error(PROTOCOL_ERROR, `${name} padding longer than the frame`);
      return;
    }
    case CONTINUATION:
      if (id === 0) throw new H2Error(PROTOCOL_ERROR, "CONTINUATION on stream 0");
      return;
    case RST_STREAM:
      if (id === 0) throw new H2Error(PROTOCOL_ERROR, "RST_STREAM on stream 0");
      if (length !== 4) throw new H2Error(FRAME_SIZE_ERROR, `an RST_STREAM frame of ${length} octets`);
      return;
    case SETTINGS:
      if (id !== 0) throw new H2Error(PROTOCOL_ERROR, `SETTINGS on stream ${id}`);
      if (flags & ACK ? length !== 0 : length % 6 !== 0) throw new H2Error(FRAME_SIZE_ERROR, `a SETTINGS frame of ${length} octets`);
      return;
    case PING:
      if (id !== 0) throw new H2Error(PROTOCOL_ERROR, `PING on stream ${id}`);
      if (length !== 8) throw new H2Error(FRAME_SIZE_ERROR, `a PING frame of ${length} octets`);
      return;
    case GOAWAY:
      if (id !== 0) throw new H2Error(PROTOCOL_ERROR, `GOAWAY on stream ${id}`);
      if (length < 8) throw new H2Error(FRAME_SIZE_ERROR, `a GOAWAY frame of ${length} octets`);
      return;
    case WINDOW_UPDATE:
      if (length !== 4) throw new H2Error(FRAME_SIZE_ERROR, `a WINDOW_UPDATE frame of ${length} octets`);
      return;
    case PUSH_PROMISE:
      throw new H2Error(PROTOCOL_ERROR, "a PUSH_PROMISE with push disabled");
    default: // PRIORITY (deprecated, ignored), unknown types
      return;
  }
}

/**
 * A frame: its 9-octet header, then room for `length` octets of payload from offset 9.
 *
 * @example Using `frame`
 * ```ts
 * import { frame, PING } from "./h2_frames.ts";
 * console.log(frame(8, PING, 0, 0).length); // 17
 * ```
 */
export function frame(length: number, type: number, flags: number, id: number): Uint8Array {
  const bytes = new Uint8Array(9 + length);
  bytes[0] = length >>> 16;
  bytes[1] = (length >>> 8) & 0xff;
  bytes[2] = length & 0xff;
  bytes[3] = type;
  bytes[4] = flags;
  writeUint32(bytes, 5, id & 0x7fffffff);
  return bytes;
}

/**
 * Writes `value` big-endian in 4 octets at `at`.
 *
 * @example Using `writeUint32`
 * ```ts
 * import { readUint32, writeUint32 } from "./h2_frames.ts";
 * const bytes = new Uint8Array(4);
 * writeUint32(bytes, 0, 0x01020304);
 * console.log(readUint32(bytes, 0)); // 16909060
 * ```
 */
export function writeUint32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24;
  bytes[at + 1] = (value >>> 16) & 0xff;
  bytes[at + 2] = (value >>> 8) & 0xff;
  bytes[at + 3] = value & 0xff;
}

/**
 * Reads 4 octets big-endian at `at`, unsigned.
 *
 * @example Using `readUint32`
 * ```ts
 * import { readUint32 } from "./h2_frames.ts";
 * console.log(readUint32(new Uint8Array([0, 0, 1, 0]), 0)); // 256
 * ```
 */
export function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

/**
 * A WINDOW_UPDATE of the connection.
 *
 * @example Using `windowUpdate`
 * ```ts
 * import { windowUpdate } from "./h2_frames.ts";
 * console.log(windowUpdate(1000).length); // 13
 * ```
 */
export function windowUpdate(increment: number): Uint8Array {
  const update = frame(4, WINDOW_UPDATE, 0, 0);
  writeUint32(update, 9, increment & 0x7fffffff);
  return update;
}

/**
 * The payload of a DATA or HEADERS frame without its padding (the frame checked by
 * {@linkcode checkFrame} first).
 *
 * @example Using `unpad`
 * ```ts
 * import { PADDED, unpad } from "./h2_frames.ts";
 * console.log(unpad(new Uint8Array([1, 7, 0]), PADDED)); // Uint8Array(1) [ 7 ]
 * ```
 */
export function unpad(payload: Uint8Array, flags: number): Uint8Array {
  if ((flags & PADDED) === 0) return payload;
  return payload.subarray(1, payload.length - payload[0]);
}

/**
 * The parts joined.
 *
 * @example Using `concat`
 * ```ts
 * import { concat } from "./h2_frames.ts";
 * console.log(concat([new Uint8Array([1]), new Uint8Array([2])])); // Uint8Array(2) [ 1, 2 ]
 * ```
 */
export function concat(parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.length;
  const whole = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.length;
  }
  return whole;
}
