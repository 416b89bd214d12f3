/**
 * Port patterns of capability rules: `80`, `8000-8100`, `*`.
 *
 * @module
 */

/** An inclusive range of ports. */
export interface PortRange {
  readonly min: number;
  readonly max: number;
}

/** Every port, 0 (any free port, for a listener) to 65535. */
export const ANY_PORT: PortRange = { min: 0, max: 65535 };

const DIGITS = /^\d{1,5}$/;

/**
 * Parses a port pattern.
 *
 * @param text `*`, a port, or `low-high`.
 * @returns The range, or what is wrong with it.
 */
export function parsePorts(text: string): PortRange | { problem: string } {
  if (text === "*") return ANY_PORT;
  const dash = text.indexOf("-");
  const low = dash === -1 ? text : text.slice(0, dash);
  const high = dash === -1 ? text : text.slice(dash + 1);
  if (!DIGITS.test(low) || !DIGITS.test(high)) {
    return { problem: `port ${JSON.stringify(text)} is not a number, a range like 8000-8100, or *` };
  }
  const min = Number(low);
  const max = Number(high);
  if (max > 65535) return { problem: `port ${max} is over 65535` };
  if (min > max) return { problem: `port range ${text} runs backwards` };
  return { min, max };
}

/** True when `port` is in one of `ranges`. */
export function inPorts(ranges: readonly PortRange[] | undefined, port: number): boolean {
  if (ranges === undefined) return false;
  for (let i = 0; i < ranges.length; i++) {
    const range = ranges[i];
    if (port >= range.min && port <= range.max) return true;
  }
  return false;
}
