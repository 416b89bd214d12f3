/**
 * `restrict`: the policy of a narrower handle allows a request only when both the handle
 * it was made from and its own rules allow it, so no handle can widen what it was given.
 *
 * @module
 */
import type { AccessRequest, NetworkPolicy } from "../policy.ts";
import { ALLOW_ALL } from "../policy.ts";

/**
 * The intersection of two policies.
 *
 * @param parent The policy of the handle being narrowed.
 * @param child The rules given to `restrict`.
 * @returns A policy that allows what both allow.
 */
export function intersectPolicies(parent: NetworkPolicy, child: NetworkPolicy): NetworkPolicy {
  if (parent === ALLOW_ALL) return child;
  return {
    check(request: AccessRequest): string | undefined {
      const own = child.check(request);
      if (own !== undefined) return own;
      const inherited = parent.check(request);
      if (inherited === undefined) return undefined;
      return `${inherited}; this handle was restricted from one that denies it, and restrict() never widens`;
    },
    hasOutbound(protocol: "tcp" | "udp"): boolean {
      return (child.hasOutbound?.(protocol) ?? false) && (parent.hasOutbound?.(protocol) ?? false);
    },
  };
}
