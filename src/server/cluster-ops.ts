// The Cluster service's write side (MemberAdd/Remove/Update/Promote) and MoveLeader, with
// etcd 3.4's checks and error texts. Changes go through the log as ConfChange entries whose
// context carries the member, so every member's table is filled by applying them.
import type { ServerMetrics } from "./server-metrics.ts";
import { create } from "@bufbuild/protobuf";
import {
  type Member,
  type MemberAddRequest,
  type MemberAddResponse,
  MemberAddResponseSchema,
  type MemberPromoteRequest,
  type MemberPromoteResponse,
  MemberPromoteResponseSchema,
  type MemberRemoveRequest,
  type MemberRemoveResponse,
  MemberRemoveResponseSchema,
  MemberSchema,
  type MemberUpdateRequest,
  type MemberUpdateResponse,
  MemberUpdateResponseSchema,
  type ResponseHeader,
} from "../gen/rpc_pb.ts";
import { computeMemberId } from "../membership/ids.ts";
import { encodeMemberContext, type MemberRecord } from "../membership/members.ts";
import { ConfChangeType } from "../raft/conf-change.ts";
import { Role } from "../raft/raft.ts";
import { Code, Errors, EtcdError } from "../rpctypes/index.ts";
import type { RaftLoop } from "./raft-loop.ts";
import { PeerRequestError } from "../transport/errors.ts";
import type { PeerMember, PeerTransport } from "../transport/types.ts";

export const leaderTransferTimeout = new EtcdError(
  Code.Unavailable,
  "etcdserver: request timed out, leader transfer took too long",
);

export interface ClusterOpsContext {
  /** Learner promotions counted (/metrics). */
  readonly metrics: Pick<ServerMetrics, "learnerPromoteSuccesses" | "learnerPromoteFailures">;
  readonly memberId: bigint;
  readonly loop: RaftLoop;
  readonly transport: PeerTransport;
  readonly clusterToken: string;
  readonly strictReconfigCheck: boolean;
  readonly clock: () => number;
  readonly rng: () => number;
  /** Header without revision (etcd 3.4 membership responses). */
  readonly header: () => ResponseHeader;
  /** Resolves when `pred()` holds after some Ready, or rejects at the deadline. */
  readonly waitFor: (pred: () => boolean, timeoutMs: number, err: Error) => Promise<void>;
  readonly electionMs: number;
  /** A forwarded request is retried across leader changes until this passes. */
  readonly requestTimeoutMs: number;
}

/** etcd's HealthInterval: how long peers must have been connected for a reconfiguration. */
export const HEALTH_INTERVAL_MS = 5000;

/** Pause between two attempts to reach the leader with a forwarded promote. */
const PROMOTE_RETRY_MS = 100;

export function toMember(m: MemberRecord): Member {
  return create(MemberSchema, { ID: m.id, name: m.name, peerURLs: [...m.peerURLs], clientURLs: [...m.clientURLs], isLearner: m.isLearner });
}

function validUrls(urls: readonly string[]): boolean {
  if (urls.length === 0) return false;
  for (const u of urls) {
    try {
      const p = new URL(u);
      if (p.protocol !== "http:" && p.protocol !== "https:") return false;
      if (p.pathname !== "/" && p.pathname !== "") return false;
      if (p.port === "") return false;
    } catch {
      return false;
    }
  }
  return true;
}

export class ClusterOps {
  private ccSeq = 0n;

  constructor(private readonly c: ClusterOpsContext) {}

  private members(): Member[] {
    return this.c.loop.members.list().map(toMember);
  }

  private ccId(): bigint {
    // Unique per member: the member's ID mixed with a counter and some randomness.
    this.ccSeq++;
    return (BigInt(Math.floor(this.c.rng() * 0xffffffff)) << 24n) ^ (this.c.memberId & 0xffffffn) ^ this.ccSeq;
  }

  /**
   * etcd's "started" members: those that published their attributes through the log (a name),
   * whether or not this member talks to them now (membership.Member.IsStarted).
   */
  private started(ids: readonly bigint[]): number {
    let n = 0;
    for (const id of ids) if ((this.c.loop.members.get(id)?.name ?? "") !== "") n++;
    return n;
  }

  /**
   * etcd's numConnectedSince(now − HealthInterval): this member, and every peer whose message
   * stream has been open for at least HEALTH_INTERVAL_MS.
   */
  private connectedLong(ids: readonly bigint[]): number {
    let n = 0;
    for (const id of ids) {
      if (id === this.c.memberId) n++;
      else if ((this.c.transport.connectedFor(id) ?? -1) >= HEALTH_INTERVAL_MS) n++;
    }
    return n;
  }

  private voters(): bigint[] {
    return this.c.loop.members.list().filter((m) => !m.isLearner).map((m) => m.id);
  }

  async add(req: MemberAddRequest): Promise<MemberAddResponse> {
    const urls = [...req.peerURLs];
    if (!validUrls(urls)) throw Errors.memberBadURLs;
    const table = this.c.loop.members;
    if (!req.isLearner && this.c.strictReconfigCheck) {
      // etcd's mayAddMember: IsReadyToAddVotingMember counts the voters that published their
      // attributes (a one-member cluster may grow to two), then every voter must have been
      // connected to this member for HealthInterval, or the change could break the quorum.
      const voters = this.voters();
      const members = voters.length + 1;
      const started = this.started(voters);
      if (!(started === 1 && members === 2) && started < Math.floor(members / 2) + 1) throw Errors.memberNotEnoughStarted;
      if (this.connectedLong(voters) !== voters.length) throw Errors.unhealthyCluster;
    }
    // Checked when the change is applied in etcd (ValidateConfigurationChange), so after the above.
    const taken = new Set(table.list().flatMap((m) => m.peerURLs));
    if (urls.some((u) => taken.has(u))) throw Errors.peerURLExist;
    if (req.isLearner && table.list().some((m) => m.isLearner)) throw Errors.tooManyLearners;
    // etcd hashes runtime-added members with an empty cluster token and the unix time.
    const id = computeMemberId(urls, "", Math.floor(this.c.clock() / 1000));
    if (table.has(id) || table.isRemoved(id)) throw Errors.memberExist;
    const rec: MemberRecord = { id, name: "", peerURLs: urls, clientURLs: [], isLearner: req.isLearner };
    await this.c.loop.proposeConfChange({
      type: req.isLearner ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode,
      nodeId: id,
      id: this.ccId(),
      context: encodeMemberContext(rec),
    });
    return create(MemberAddResponseSchema, { header: this.c.header(), member: toMember(rec), members: this.members() });
  }

  async remove(req: MemberRemoveRequest): Promise<MemberRemoveResponse> {
    const table = this.c.loop.members;
    const m = table.get(req.ID);
    if (m?.isLearner !== true && this.c.strictReconfigCheck) {
      // etcd's mayRemoveMember: the voters left must hold a quorum of started members; then,
      // unless the member removed is down, the connected voters minus it must keep a quorum.
      // It runs before the ID is looked up (etcd finds an unknown ID only when applying), so
      // a cluster short of started members refuses even an unknown ID for that reason.
      const remaining = this.voters().filter((v) => v !== req.ID);
      if (this.started(remaining) < Math.floor(remaining.length / 2) + 1) throw Errors.memberNotEnoughStarted;
      const down = req.ID !== this.c.memberId && this.c.transport.connectedFor(req.ID) === undefined;
      if (!down) {
        const all = this.voters();
        if (this.connectedLong(all) - 1 < 1 + Math.floor((all.length - 1) / 2)) throw Errors.unhealthyCluster;
      }
    }
    if (m === undefined) throw Errors.memberNotFound;
    await this.c.loop.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: req.ID, id: this.ccId(), context: new Uint8Array(0) });
    return create(MemberRemoveResponseSchema, { header: this.c.header(), members: this.members() });
  }

  async update(req: MemberUpdateRequest): Promise<MemberUpdateResponse> {
    const urls = [...req.peerURLs];
    if (!validUrls(urls)) throw Errors.memberBadURLs;
    const table = this.c.loop.members;
    const m = table.get(req.ID);
    if (m === undefined) throw Errors.memberNotFound;
    const taken = new Set(table.list().filter((x) => x.id !== req.ID).flatMap((x) => x.peerURLs));
    if (urls.some((u) => taken.has(u))) throw Errors.peerURLExist;
    await this.c.loop.proposeConfChange({
      type: ConfChangeType.UpdateNode,
      nodeId: req.ID,
      id: this.ccId(),
      context: encodeMemberContext({ ...m, peerURLs: urls }),
    });
    return create(MemberUpdateResponseSchema, { header: this.c.header(), members: this.members() });
  }

  /**
   * MemberPromote as etcd does it: only the leader knows whether the learner is in sync, so a
   * follower forwards the request to the leader over the peer port and answers with the
   * leader's member list. Retried across leader changes until the request timeout.
   */
  async promote(req: MemberPromoteRequest): Promise<MemberPromoteResponse> {
    const deadline = this.c.clock() + this.c.requestTimeoutMs;
    for (;;) {
      const loop = this.c.loop;
      if (loop.node.raft.state === Role.Leader) {
        await this.promoteOnLeader(req.ID);
        return create(MemberPromoteResponseSchema, { header: this.c.header(), members: this.members() });
      }
      const lead = loop.leader();
      if (lead !== 0n) {
        try {
          const members = await this.c.transport.promoteMember(lead, req.ID);
          return create(MemberPromoteResponseSchema, { header: this.c.header(), members: members.map(toMember) });
        } catch (err) {
          // The leader's answer is final unless it was no longer the leader; an unreachable
          // leader is asked again (a new one may be elected meanwhile).
          if (err instanceof EtcdError && err.message !== Errors.notLeader.message) throw err;
          if (!(err instanceof EtcdError) && !(err instanceof PeerRequestError)) throw err;
        }
      }
      const left = deadline - this.c.clock();
      if (left <= 0) throw Errors.timeout;
      const t0 = this.c.clock();
      const seen = loop.leader();
      // Until the leader changes or a short pause passes, whichever is first.
      await this.c
        .waitFor(() => loop.leader() !== seen || this.c.clock() - t0 >= PROMOTE_RETRY_MS, left, Errors.timeout)
        .catch(() => {});
    }
  }

  /** The leader's side of MemberPromote (etcd's promoteMember with its in-sync rule). */
  async promoteOnLeader(id: bigint): Promise<PeerMember[]> {
    try {
      const members = await this.promoteLearner(id);
      this.c.metrics.learnerPromoteSuccesses.inc();
      return members;
    } catch (err) {
      // etcd's PromoteMember counts every refusal but "not leader", by its text.
      if (err !== Errors.notLeader) this.c.metrics.learnerPromoteFailures.with(err instanceof Error ? err.message : String(err)).inc();
      throw err;
    }
  }

  private async promoteLearner(id: bigint): Promise<PeerMember[]> {
    const loop = this.c.loop;
    if (loop.node.raft.state !== Role.Leader) throw Errors.notLeader;
    const m = loop.members.get(id);
    if (m === undefined) throw Errors.memberNotFound;
    if (!m.isLearner) throw Errors.memberNotLearner;
    // etcd's isLearnerReady: the learner's match index must be at least 90% of the leader's.
    const st = loop.node.status();
    const self = st.progress.get(this.c.memberId);
    const lp = st.progress.get(id);
    if (self === undefined || lp === undefined || lp.match < self.match * 0.9) throw Errors.learnerNotReady;
    if (this.c.strictReconfigCheck) {
      // etcd's IsReadyToPromoteMember: the started voters plus the learner (counted as started)
      // make a quorum of the voters after the change.
      const voters = this.voters();
      const quorum = Math.floor((voters.length + 1) / 2) + 1;
      if (this.started(voters) + 1 < quorum) throw Errors.memberNotEnoughStarted;
    }
    await loop.proposeConfChange({
      type: ConfChangeType.AddNode,
      nodeId: id,
      id: this.ccId(),
      context: encodeMemberContext({ ...m, isLearner: false }),
    });
    return loop.members.list().map((x) => ({ id: x.id, name: x.name, peerURLs: x.peerURLs, clientURLs: x.clientURLs, isLearner: x.isLearner }));
  }

  /** Hands leadership to `target` and waits until it has taken over. */
  async moveLeader(target: bigint): Promise<void> {
    const loop = this.c.loop;
    if (loop.node.raft.state !== Role.Leader) throw Errors.notLeader;
    const t = loop.members.get(target);
    if (t === undefined || t.isLearner) throw Errors.badLeaderTransferee;
    if (target === this.c.memberId) return;
    loop.withNode((n) => n.transferLeader(target));
    await this.c.waitFor(() => loop.leader() === target, 5000 + 2 * this.c.electionMs, leaderTransferTimeout);
  }
}
