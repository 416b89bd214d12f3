/**
 * The bytes of a DNS query that the UDP pool makes random or compares: the query ID and
 * DNS 0x20 (draft-vixie-dnsext-dns0x20), both from the platform CSPRNG.
 *
 * DNS 0x20: the letters of the question name are put in random case in the bytes sent. A
 * reply whose question matches ours only ignoring case marks the server (address and port,
 * for the whole process) as one that does not echo case: the reply is dropped (counted),
 * the query is asked again at once without 0x20 on a fresh ID, and later queries to that
 * server go without 0x20 (see `pooled_socket.ts`).
 *
 * @module
 */
import type { NameServer } from "./config.ts";

const HEADER = 12;

const ids = new Uint16Array(2048);
let nextId = ids.length;

/** A random 16-bit query ID from the platform's CSPRNG (drawn 2048 at a time: one call costs microseconds). */
export function randomId(): number {
  if (nextId === ids.length) {
    crypto.getRandomValues(ids);
    nextId = 0;
  }
  return ids[nextId++];
}

const caseBits = new Uint8Array(4096);
let nextCaseByte = caseBits.length;

/** 8 random bits from the CSPRNG, drawn 4096 bytes at a time. */
function randomByte(): number {
  if (nextCaseByte === caseBits.length) {
    crypto.getRandomValues(caseBits);
    nextCaseByte = 0;
  }
  return caseBits[nextCaseByte++];
}

/** Servers seen not to echo the question's case: port → addresses. */
const noCaseEcho = new Map<number, Set<string>>();

/** Whether `server` is not known to answer without echoing the question's case. */
export function echoesCase(server: NameServer): boolean {
  return noCaseEcho.get(server.port)?.has(server.address) !== true;
}

/** Remembers `server` as one that does not echo the question's case. */
export function markNoCaseEcho(server: NameServer): void {
  let addresses = noCaseEcho.get(server.port);
  if (addresses === undefined) noCaseEcho.set(server.port, addresses = new Set());
  addresses.add(server.address);
}

/**
 * Internal, for tests: forgets which servers were seen not to echo case.
 */
export function resetCaseEchoMemory(): void {
  noCaseEcho.clear();
}

/**
 * The end of the question (name, type, class) of a message starting at `HEADER`, or -1
 * when the name runs past the end or holds a pointer.
 */
export function questionEnd(bytes: Uint8Array): number {
  let at = HEADER;
  while (at < bytes.length) {
    const length = bytes[at];
    if (length === 0) return at + 5 <= bytes.length ? at + 5 : -1;
    if (length > 63) return -1;
    at += length + 1;
  }
  return -1;
}

/** Puts the letters of the question name of `bytes` (a copy of ours) in random case; whether it has any letter. */
export function randomizeCase(bytes: Uint8Array, end: number): boolean {
  let letters = false;
  let bits = 0;
  let left = 0;
  let at = HEADER;
  const nameEnd = end - 5;
  while (at < nameEnd) {
    const length = bytes[at];
    for (let i = at + 1; i <= at + length; i++) {
      const byte = bytes[i] | 0x20;
      if (byte < 0x61 || byte > 0x7a) continue;
      letters = true;
      if (left === 0) {
        bits = randomByte();
        left = 8;
      }
      bytes[i] = (bits & 1) === 0 ? byte : byte & ~0x20;
      bits >>= 1;
      left--;
    }
    at += length + 1;
  }
  return letters;
}

/** Whether the question name of `bytes` (up to `end`) has no upper-case letter: lowering it then gives it back. */
export function lowerCaseName(bytes: Uint8Array, end: number): boolean {
  for (let i = HEADER; i < end - 4; i++) {
    const byte = bytes[i];
    if (byte >= 0x41 && byte <= 0x5a) return false;
  }
  return true;
}

/** A copy of `bytes` with the letters of its question name (up to `end`) in lower case. */
export function lowerCaseCopy(bytes: Uint8Array, end: number): Uint8Array {
  const copy = bytes.slice();
  let at = HEADER;
  while (at < end - 5) {
    const length = copy[at];
    for (let i = at + 1; i <= at + length; i++) {
      const byte = copy[i];
      if (byte >= 0x41 && byte <= 0x5a) copy[i] = byte | 0x20;
    }
    at += length + 1;
  }
  return copy;
}

/** Whether `reply` holds the same question bytes as `sent` from `HEADER` to `end`, optionally ignoring ASCII case. */
export function sameQuestion(reply: Uint8Array, sent: Uint8Array, end: number, ignoreCase: boolean): boolean {
  if (reply.length < end || reply[4] !== 0 || reply[5] !== 1) return false;
  for (let i = HEADER; i < end; i++) {
    const a = reply[i];
    const b = sent[i];
    if (a === b) continue;
    if (!ignoreCase || (a | 0x20) !== (b | 0x20)) return false;
    const lower = a | 0x20;
    if (lower < 0x61 || lower > 0x7a) return false;
  }
  return true;
}
