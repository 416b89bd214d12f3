/**
 * A fast path for the IPv6 literals met on every lookup and every datagram: hexadecimal
 * groups with at most one `::`, no embedded IPv4 and no zone. It writes them in
 * RFC 5952 form (IPv4-mapped ones as `::ffff:a.b.c.d`) in well under a microsecond,
 * where `ipaddr.js` takes several (its `range()` walks a table of special ranges).
 * Anything else is left to `ipaddr.js`, so what is valid and what the canonical text
 * is stay exactly as before; `tests/core_test.ts` compares the two on random input.
 *
 * @module
 */

const COLON = 0x3a;

/** The value of a hexadecimal digit's character code, or -1. */
function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * The RFC 5952 text of a plain, well-formed IPv6 literal; undefined when `text` is not
 * one (it may still be valid, with embedded IPv4 or a zone, or it may be no address at
 * all), which means "ask the full parser".
 *
 * @param text The literal, without brackets.
 * @returns The canonical text, or undefined.
 */
export function plainIpv6(text: string): string | undefined {
  const groups: number[] = [];
  let gap = -1; // where `::` stands, as an index into groups
  let i = 0;
  const length = text.length;
  if (length < 2) return undefined;
  if (text.charCodeAt(0) === COLON) {
    if (text.charCodeAt(1) !== COLON) return undefined;
    gap = 0;
    i = 2;
    if (i === length) return format(new Array(8).fill(0));
  }
  for (;;) {
    let value = 0;
    let digits = 0;
    while (i < length) {
      const digit = hexValue(text.charCodeAt(i));
      if (digit < 0) break;
      if (++digits > 4) return undefined;
      value = value * 16 + digit;
      i++;
    }
    if (digits === 0 || groups.length === 8) return undefined;
    groups.push(value);
    if (i === length) break;
    if (text.charCodeAt(i) !== COLON) return undefined;
    i++;
    if (i < length && text.charCodeAt(i) === COLON) {
      if (gap >= 0) return undefined;
      gap = groups.length;
      i++;
      if (i === length) break;
    } else if (i === length) {
      return undefined;
    }
  }
  if (gap < 0) return groups.length === 8 ? format(groups) : undefined;
  if (groups.length > 7) return undefined;
  const full = groups.slice(0, gap);
  for (let missing = 8 - groups.length; missing > 0; missing--) full.push(0);
  for (let k = gap; k < groups.length; k++) full.push(groups[k]);
  return format(full);
}

/** RFC 5952: lower case, no leading zeros, the first longest run of two or more zero groups as `::`. */
function format(groups: number[]): string {
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `::ffff:${groups[6] >> 8}.${groups[6] & 0xff}.${groups[7] >> 8}.${groups[7] & 0xff}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let k = 0; k < 8;) {
    if (groups[k] !== 0) {
      k++;
      continue;
    }
    let end = k;
    while (end < 8 && groups[end] === 0) end++;
    if (end - k > bestLength) {
      bestStart = k;
      bestLength = end - k;
    }
    k = end;
  }
  if (bestStart < 0) return groups.map((group) => group.toString(16)).join(":");
  const head = groups.slice(0, bestStart).map((group) => group.toString(16)).join(":");
  const tail = groups.slice(bestStart + bestLength).map((group) => group.toString(16)).join(":");
  return `${head}::${tail}`;
}
