/**
 * The server name a TLS client asks for, read out of its first record (the ClientHello)
 * before TLS starts: the server side picks its certificate by it where the runtime's
 * `node:tls` does not call `SNICallback` (Bun, over a `Duplex`). Parsing never throws:
 * anything that is not a well-formed ClientHello gives `undefined`.
 *
 * @module
 */

/** Bytes of a TLS record header: type, version, length. */
const RECORD_HEADER = 5;
/** The largest plaintext fragment a record may carry (RFC 8446 §5.1). */
const MAX_FRAGMENT = 16 * 1024;
/** Record type `handshake`. */
const HANDSHAKE = 22;
/** Handshake type `client_hello`. */
const CLIENT_HELLO = 1;
/** Extension `server_name` (RFC 6066 §3). */
const SERVER_NAME = 0;
/** `server_name` entry type `host_name`. */
const HOST_NAME = 0;

/**
 * The size of the first TLS record, header included, from its first bytes: how many bytes
 * to read before {@linkcode clientHelloServerName} can look. `undefined` when there are
 * fewer than 5 bytes, or when they do not start a TLS handshake record (another record
 * type, a major version other than 3, an empty or oversized fragment): then there is no
 * ClientHello to wait for. At most 16 KiB + 5.
 *
 * @param bytes The first bytes received; only the first 5 are looked at.
 * @returns 5 + the record's length, or undefined.
 *
 * @example Reading until the ClientHello is whole
 * ```ts ignore
 * import { clientHelloRecordSize, clientHelloServerName } from "./client_hello.ts";
 * const size = clientHelloRecordSize(received);
 * if (size !== undefined && received.length >= size) console.log(clientHelloServerName(received));
 * ```
 */
export function clientHelloRecordSize(bytes: Uint8Array): number | undefined {
  if (bytes.length < RECORD_HEADER || bytes[0] !== HANDSHAKE || bytes[1] !== 3) return undefined;
  const length = (bytes[3] << 8) | bytes[4];
  if (length === 0 || length > MAX_FRAGMENT) return undefined;
  return RECORD_HEADER + length;
}

/**
 * The `host_name` of the `server_name` extension of the ClientHello in the first TLS
 * record of `bytes`, as the client sent it. `undefined` when the record is not whole in
 * `bytes`, is not a ClientHello, is malformed, has no `server_name` extension or no
 * `host_name` entry, or the name is not printable ASCII. Never throws. A ClientHello
 * longer than its first record is looked at as far as that record goes.
 *
 * @param bytes The bytes received, from the first; anything past the first record is ignored.
 * @returns The server name, or undefined.
 *
 * @example The name a client asks for
 * ```ts ignore
 * import { clientHelloServerName } from "./client_hello.ts";
 * const name = clientHelloServerName(firstRecord); // "other.test", or undefined
 * ```
 */
export function clientHelloServerName(bytes: Uint8Array): string | undefined {
  const size = clientHelloRecordSize(bytes);
  if (size === undefined || bytes.length < size) return undefined;
  const reader = new Reader(bytes, RECORD_HEADER, size);
  if (reader.u8() !== CLIENT_HELLO) return undefined;
  const length = reader.u24();
  if (length === undefined) return undefined;
  // A ClientHello split over records: what follows is beyond this one.
  const body = reader.sub(Math.min(length, reader.left()));
  if (body === undefined || !body.advance(2 + 32)) return undefined;
  const sessionId = body.u8();
  if (sessionId === undefined || !body.advance(sessionId)) return undefined;
  const cipherSuites = body.u16();
  if (cipherSuites === undefined || !body.advance(cipherSuites)) return undefined;
  const compression = body.u8();
  if (compression === undefined || !body.advance(compression)) return undefined;
  const extensionsLength = body.u16();
  if (extensionsLength === undefined) return undefined;
  const extensions = body.sub(Math.min(extensionsLength, body.left()));
  if (extensions === undefined) return undefined;
  while (extensions.left() > 0) {
    const type = extensions.u16();
    const dataLength = extensions.u16();
    if (type === undefined || dataLength === undefined) return undefined;
    const data = extensions.sub(dataLength);
    if (data === undefined) return undefined;
    if (type === SERVER_NAME) return hostName(data);
  }
  return undefined;
}

/** The `host_name` entry of a `server_name` extension's data. */
function hostName(data: Reader): string | undefined {
  const listLength = data.u16();
  if (listLength === undefined) return undefined;
  const list = data.sub(listLength);
  if (list === undefined) return undefined;
  while (list.left() > 0) {
    const type = list.u8();
    const nameLength = list.u16();
    if (type === undefined || nameLength === undefined) return undefined;
    const name = list.bytes(nameLength);
    if (name === undefined) return undefined;
    if (type !== HOST_NAME) continue;
    if (name.length === 0) return undefined;
    let text = "";
    for (const byte of name) {
      if (byte < 0x21 || byte > 0x7e) return undefined;
      text += String.fromCharCode(byte);
    }
    return text;
  }
  return undefined;
}

/** Big-endian reads within [offset, end) of a buffer; undefined past the end, never a throw. */
class Reader {
  private readonly buffer: Uint8Array;
  private offset: number;
  private readonly end: number;

  constructor(buffer: Uint8Array, offset: number, end: number) {
    this.buffer = buffer;
    this.offset = offset;
    this.end = end;
  }

  left(): number {
    return this.end - this.offset;
  }

  advance(count: number): boolean {
    if (count > this.left()) return false;
    this.offset += count;
    return true;
  }

  u8(): number | undefined {
    if (this.left() < 1) return undefined;
    return this.buffer[this.offset++];
  }

  u16(): number | undefined {
    if (this.left() < 2) return undefined;
    const value = (this.buffer[this.offset] << 8) | this.buffer[this.offset + 1];
    this.offset += 2;
    return value;
  }

  u24(): number | undefined {
    if (this.left() < 3) return undefined;
    const value = (this.buffer[this.offset] << 16) | (this.buffer[this.offset + 1] << 8) | this.buffer[this.offset + 2];
    this.offset += 3;
    return value;
  }

  bytes(count: number): Uint8Array | undefined {
    if (count > this.left()) return undefined;
    const view = this.buffer.subarray(this.offset, this.offset + count);
    this.offset += count;
    return view;
  }

  /** The next `count` bytes as a reader of their own; this one moves past them. */
  sub(count: number): Reader | undefined {
    if (count > this.left()) return undefined;
    const reader = new Reader(this.buffer, this.offset, this.offset + count);
    this.offset += count;
    return reader;
  }
}
