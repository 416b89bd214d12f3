/**
 * The seam the capability rules plug into. Every operation asks its network's policy
 * before any system call or query; the ambient policy allows everything.
 *
 * @module
 */
import type { ParsedIp } from "../core/address.ts";

/** What an operation wants to do, as the policy sees it. */
export type AccessRequest =
  | { kind: "resolve"; name: string }
  | { kind: "outbound"; protocol: "tcp" | "udp"; address: ParsedIp; port: number; hostname: string }
  | { kind: "inbound"; protocol: "tcp" | "udp"; address: ParsedIp; port: number; hostname: string }
  | { kind: "outbound-unix" | "inbound-unix"; path: string };

/** Decides requests. Returns undefined to allow, or the reason it denies (naming the flag that would allow). */
export interface NetworkPolicy {
  check(request: AccessRequest): string | undefined;
  /**
   * True when some outbound rule of `protocol` exists. A UDP socket may then bind an
   * ephemeral port without an inbound rule, as a client that hears only its allowed peers.
   */
  hasOutbound?(protocol: "tcp" | "udp"): boolean;
}

/** Allows all that the runtime allows: the policy of the module-level functions. */
export const ALLOW_ALL: NetworkPolicy = { check: () => undefined, hasOutbound: () => true };
