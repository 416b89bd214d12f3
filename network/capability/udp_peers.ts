/**
 * Which peers a UDP client socket hears. A socket bound on port 0 without an inbound rule
 * (allowed because the policy lets it send somewhere) receives only from peers it may
 * send to: the answers to its own requests, not the world.
 *
 * @module
 */
import { parseIp } from "../../core/address.ts";
import type { NetworkPolicy } from "../policy.ts";
import type { PeerFilter } from "../../udp/bind.ts";

const MAX_PEERS = 4096;

/**
 * A filter that asks `policy` about each new peer once and remembers the answer.
 *
 * @param policy The handle's policy.
 * @returns True for a peer the socket may hear.
 */
export function udpPeerFilter(policy: NetworkPolicy): PeerFilter {
  const decided = new Map<string, boolean>();
  return (address, port) => {
    const key = `${address} ${port}`;
    let allowed = decided.get(key);
    if (allowed === undefined) {
      const parsed = parseIp(address);
      allowed = parsed !== undefined &&
        policy.check({ kind: "outbound", protocol: "udp", address: parsed, port, hostname: parsed.address }) === undefined;
      if (decided.size >= MAX_PEERS) decided.clear();
      decided.set(key, allowed);
    }
    return allowed;
  };
}
