// Decides how a member starts (etcd's bootstrap): restart from its data dir, found a new
// cluster from --initial-cluster, or join a running one (--initial-cluster-state existing).
// Pure apart from the injected `fetchMembers` probe, so every branch is testable.
import { computeClusterId, computeMemberId } from "../membership/ids.ts";
import { encodeMemberContext } from "../membership/members.ts";
import type { PeerMember } from "../transport/types.ts";

export interface Identity {
  readonly name: string;
  readonly memberId: bigint;
  readonly clusterId: bigint;
}

export interface BootstrapInput {
  readonly name: string;
  /** --initial-cluster as name → peer URLs. */
  readonly initialCluster: ReadonlyMap<string, readonly string[]>;
  readonly initialClusterState: "new" | "existing";
  readonly token: string;
  /** Identity found in the data dir, if any. */
  readonly existing?: Identity;
  readonly fetchMembers: (
    urls: readonly string[],
  ) => Promise<{ clusterId: bigint; members: PeerMember[]; status?: { commit: number } } | undefined>;
}

export type BootstrapPlan =
  /** Data dir exists: state and membership come from it; --initial-* is ignored. */
  | { readonly kind: "restart"; readonly identity: Identity }
  /** New cluster: RawNode.bootstrap(peers), contexts carrying each member. */
  | { readonly kind: "new"; readonly identity: Identity; readonly peers: { id: bigint; context: Uint8Array }[]; readonly members: PeerMember[] }
  /** Joining a running cluster: no bootstrap entries; the leader sends the log or a snapshot. */
  | { readonly kind: "join"; readonly identity: Identity; readonly members: PeerMember[] };

export class BootstrapError extends Error {}

const sortedKey = (urls: readonly string[]) => [...urls].sort().join(",");

export async function planBootstrap(i: BootstrapInput): Promise<BootstrapPlan> {
  if (i.existing) return { kind: "restart", identity: i.existing };
  const mine = i.initialCluster.get(i.name);
  if (mine === undefined) {
    throw new BootstrapError(`couldn't find local name "${i.name}" in the initial cluster configuration`);
  }
  const others = [...i.initialCluster.entries()].filter(([n]) => n !== i.name).flatMap(([, urls]) => urls);
  if (i.initialClusterState === "existing") {
    const found = others.length > 0 ? await i.fetchMembers(others) : undefined;
    if (found === undefined) {
      throw new BootstrapError("cannot fetch cluster info from peer urls: could not retrieve cluster information from the given URLs");
    }
    const self = found.members.find((m) => sortedKey(m.peerURLs) === sortedKey(mine));
    if (self === undefined) {
      throw new BootstrapError(`member ${i.name} (peer URLs ${mine.join(",")}) has not been added to the cluster; add it with 'member add' first`);
    }
    return { kind: "join", identity: { name: i.name, memberId: self.id, clusterId: found.clusterId }, members: found.members };
  }
  const members: PeerMember[] = [...i.initialCluster.entries()].map(([name, urls]) => ({
    id: computeMemberId(urls, i.token),
    name,
    peerURLs: [...urls],
    clientURLs: [],
    isLearner: false,
  }));
  const memberId = computeMemberId(mine, i.token);
  const clusterId = computeClusterId(members.map((m) => m.id));
  if (others.length > 0) {
    // A member wiped and started again with "new" would fork the cluster: refuse when a peer
    // already lists this member as published (etcd's isMemberBootstrapped).
    const found = await i.fetchMembers(others);
    // A peer still starting answers with cluster ID 0 and no members: nothing to compare.
    if (found !== undefined && found.clusterId !== 0n) {
      if (found.clusterId !== clusterId) {
        throw new BootstrapError(
          `peer answered with cluster ID ${found.clusterId.toString(16)}, expected ${clusterId.toString(16)}: check --initial-cluster-token and --initial-cluster`,
        );
      }
      const me = found.members.find((m) => m.id === memberId);
      if (me !== undefined && me.clientURLs.length > 0) {
        throw new BootstrapError(
          `member ${memberId.toString(16)} has already been bootstrapped; use --initial-cluster-state=existing with an empty data dir to rejoin after 'member remove' and 'member add'`,
        );
      }
    }
  }
  // Contexts carry the member without its client URLs: every member publishes its own.
  const peers = members.map((m) => ({
    id: m.id,
    context: encodeMemberContext({ id: m.id, name: m.name, peerURLs: m.peerURLs, clientURLs: [], isLearner: false }),
  }));
  return { kind: "new", identity: { name: i.name, memberId, clusterId }, peers, members };
}
