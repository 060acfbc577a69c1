// The Raft state machine (modelled on etcd's raft/raft.go). Roles swap the step and tick
// functions; the per-role step functions live in step-leader.ts and step-follower.ts. Everything
// is synchronous; outgoing messages queue in `msgs` until the RawNode hands them out in a Ready.

import { assert, AssertionError, hexId } from "./assert.ts";
import { describeConfState, nextConfState, type ConfChange } from "./conf-change.ts";
import { defaults, type Config } from "./config.ts";
import { discardLogger, type Logger } from "./logger.ts";
import { isLocalMsg, messageTypeName, MessageType as M, msg, voteRespType, type Message, type MessageType } from "./message.ts";
import { Progress, ProgressState } from "./progress.ts";
import { RaftLog } from "./raft-log.ts";
import { ReadOnly, type ReadState } from "./read-only.ts";
import { stepCandidate, stepFollower } from "./step-follower.ts";
import { stepLeader } from "./step-leader.ts";
import { CompactedError, SnapshotTemporarilyUnavailableError, UnavailableError } from "./storage.ts";
import { ProgressTracker, VoteResult } from "./tracker.ts";
import { EntryType, type ConfState, type Entry, type HardState, type Snapshot } from "./types.ts";

export const Role = {
  Follower: "StateFollower",
  PreCandidate: "StatePreCandidate",
  Candidate: "StateCandidate",
  Leader: "StateLeader",
} as const;
export type Role = (typeof Role)[keyof typeof Role];

export const None = 0n;

/** A proposal could not be accepted (no leader, transfer in progress, removed...). */
export class ProposalDroppedError extends Error {
  constructor() {
    super("raft proposal dropped");
  }
}

type CampaignType = "CampaignPreElection" | "CampaignElection" | "CampaignTransfer";
const campaignTransferCtx = new TextEncoder().encode("CampaignTransfer");

function isTransferCtx(ctx: Uint8Array): boolean {
  if (ctx.length !== campaignTransferCtx.length) return false;
  for (let i = 0; i < ctx.length; i++) if (ctx[i] !== campaignTransferCtx[i]) return false;
  return true;
}

export interface SoftState {
  readonly lead: bigint;
  readonly role: Role;
}

/**
 * Internal to the Raft core (index.ts does not export it; RawNode wraps it). Members the step
 * functions of step-leader.ts and step-follower.ts use are not `private`, as etcd's Go functions
 * in the same package reach the raft struct's fields.
 */
export class Raft {
  readonly id: bigint;
  term = 0;
  vote: bigint = None;
  readStates: ReadState[] = [];
  readonly raftLog: RaftLog;
  readonly maxMsgSize: number;
  prs: ProgressTracker;
  state: Role = Role.Follower;
  isLearner = false;
  msgs: Message[] = [];
  lead: bigint = None;
  /** Target of an ongoing leadership transfer, or None. */
  leadTransferee: bigint = None;
  /** Only one conf change may be pending: the index of the latest, applied before another. */
  pendingConfIndex = 0;
  readOnly = new ReadOnly();
  /** Reads that arrived before the leader committed an entry of its term (thesis §6.4 step 1). */
  pendingReadIndexMessages: Message[] = [];
  electionElapsed = 0;
  private heartbeatElapsed = 0;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly disableProposalForwarding: boolean;
  private readonly heartbeatTimeout: number;
  private readonly electionTimeout: number;
  /** In [electionTimeout, 2*electionTimeout); reset whenever the term or role changes. */
  randomizedElectionTimeout = 0;
  private readonly rng: () => number;
  readonly logger: Logger;
  private tickFn: () => void = () => this.tickElection();
  private stepFn: (m: Message) => void = (m) => stepFollower(this, m);

  constructor(c: Config) {
    assert(c.id !== None, "cannot use none as id");
    assert(c.heartbeatTick > 0, "heartbeat tick must be greater than 0");
    assert(c.electionTick > c.heartbeatTick, "election tick must be greater than heartbeat tick");
    this.id = c.id;
    this.raftLog = new RaftLog(c.storage, c.maxCommittedSizePerReady);
    this.maxMsgSize = c.maxSizePerMsg ?? defaults.maxSizePerMsg;
    this.prs = new ProgressTracker(c.maxInflightMsgs ?? defaults.maxInflightMsgs);
    this.checkQuorum = c.checkQuorum ?? true;
    this.preVote = c.preVote ?? true;
    this.disableProposalForwarding = c.disableProposalForwarding ?? false;
    this.heartbeatTimeout = c.heartbeatTick;
    this.electionTimeout = c.electionTick;
    this.rng = c.rng;
    this.logger = c.logger ?? discardLogger;

    const { hardState, confState } = c.storage.initialState();
    this.switchToConfig(confState);
    if (hardState.term !== 0 || hardState.vote !== None || hardState.commit !== 0) this.loadState(hardState);
    if (c.applied !== undefined && c.applied > 0) this.raftLog.appliedTo(c.applied);
    this.becomeFollower(this.term, None);
    const peers = this.prs.voterIds().map(hexId).join(",");
    this.logger.info(
      `newRaft ${hexId(this.id)} [peers: [${peers}], term: ${this.term}, commit: ${this.raftLog.committed}, applied: ${this.raftLog.applied}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}]`,
    );
  }

  get hid(): string {
    return hexId(this.id);
  }

  softState(): SoftState {
    return { lead: this.lead, role: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  private loadState(hs: HardState): void {
    assert(hs.commit >= this.raftLog.committed && hs.commit <= this.raftLog.lastIndex(), () =>
      `${this.hid} state.commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`);
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  // ---- sending -------------------------------------------------------------------------------

  send(m: Message): void {
    let out = m.from === None ? { ...m, from: this.id } : m;
    const t = m.type;
    if (t === M.MsgVote || t === M.MsgVoteResp || t === M.MsgPreVote || t === M.MsgPreVoteResp) {
      assert(m.term !== 0, () => `term should be set when sending ${messageTypeName[t]}`);
    } else {
      assert(m.term === 0, () => `term should not be set when sending ${messageTypeName[t]} (was ${m.term})`);
      // Proposals and read requests are forwarded as local messages, without a term.
      if (t !== M.MsgProp && t !== M.MsgReadIndex) out = { ...out, term: this.term };
    }
    this.msgs.push(out);
  }

  /** Sends entries (or a snapshot, if they are compacted) to `to`; false if nothing was sent. */
  maybeSendAppend(to: bigint, sendIfEmpty: boolean): boolean {
    const pr = this.prs.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    let term: number | undefined;
    let ents: Entry[] | undefined;
    try {
      term = this.raftLog.term(prevIndex);
      ents = this.raftLog.entries(pr.next, this.maxMsgSize);
    } catch (e) {
      if (!(e instanceof CompactedError || e instanceof UnavailableError)) throw e;
      term = undefined;
    }
    if (ents !== undefined && ents.length === 0 && !sendIfEmpty) return false;
    if (term === undefined || ents === undefined) {
      if (!pr.recentActive) {
        this.logger.debug(`ignore sending snapshot to ${hexId(to)} since it is not recently active`);
        return false;
      }
      let snap: Snapshot;
      try {
        snap = this.raftLog.snapshot();
      } catch (e) {
        if (e instanceof SnapshotTemporarilyUnavailableError) {
          this.logger.debug(`${this.hid} failed to send snapshot to ${hexId(to)} because snapshot is temporarily unavailable`);
          return false;
        }
        throw e;
      }
      assert(snap.meta.index > 0, "need non-empty snapshot");
      this.logger.debug(
        `${this.hid} [firstindex: ${this.raftLog.firstIndex()}, commit: ${this.raftLog.committed}] sent snapshot[index: ${snap.meta.index}, term: ${snap.meta.term}] to ${hexId(to)} [${pr}]`,
      );
      pr.becomeSnapshot(snap.meta.index);
      this.send(msg({ type: M.MsgSnap, to, snapshot: snap }));
      return true;
    }
    if (ents.length > 0) {
      if (pr.state === ProgressState.Replicate) {
        const last = ents[ents.length - 1]!.index;
        pr.optimisticUpdate(last);
        pr.inflights.add(last);
      } else if (pr.state === ProgressState.Probe) {
        pr.probeSent = true;
      } else {
        throw new AssertionError(`${this.hid} is sending append in unhandled state ${pr.state}`);
      }
    }
    this.send(msg({ type: M.MsgApp, to, index: prevIndex, logTerm: term, entries: ents, commit: this.raftLog.committed }));
    return true;
  }

  sendAppend(to: bigint): void {
    this.maybeSendAppend(to, true);
  }

  private sendHeartbeat(to: bigint, ctx: Uint8Array | undefined): void {
    const pr = this.prs.progress.get(to)!;
    // The follower might not have all committed entries: never make it commit past its log.
    const commit = Math.min(pr.match, this.raftLog.committed);
    this.send(msg({ type: M.MsgHeartbeat, to, commit, ...(ctx ? { context: ctx } : {}) }));
  }

  bcastAppend(): void {
    for (const id of this.prs.ids()) if (id !== this.id) this.sendAppend(id);
  }

  bcastHeartbeat(): void {
    this.bcastHeartbeatWithCtx(this.readOnly.lastPendingRequestCtx());
  }

  private bcastHeartbeatWithCtx(ctx: Uint8Array | undefined): void {
    for (const id of this.prs.ids()) if (id !== this.id) this.sendHeartbeat(id, ctx);
  }

  sendTimeoutNow(to: bigint): void {
    this.send(msg({ type: M.MsgTimeoutNow, to }));
  }

  // ---- role changes --------------------------------------------------------------------------

  maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.prs.committed(), this.term);
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = None;
    }
    this.lead = None;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.prs.resetVotes();
    const last = this.raftLog.lastIndex();
    for (const [id, pr] of this.prs.progress) {
      const fresh = new Progress({ match: id === this.id ? last : 0, next: last + 1, maxInflight: this.prs.maxInflight, isLearner: pr.isLearner });
      this.prs.progress.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.readOnly = new ReadOnly();
    this.pendingReadIndexMessages = [];
  }

  private resetRandomizedElectionTimeout(): void {
    const r = this.rng();
    assert(r >= 0 && r < 1, () => `rng returned ${r}, want [0, 1)`);
    this.randomizedElectionTimeout = this.electionTimeout + Math.floor(r * this.electionTimeout);
  }

  appendEntry(es: { type: EntryType; data: Uint8Array }[]): void {
    const li = this.raftLog.lastIndex();
    const ents: Entry[] = es.map((e, i) => ({ term: this.term, index: li + 1 + i, type: e.type, data: e.data }));
    const last = this.raftLog.append(ents);
    // The leader's own (not yet persisted) entries count towards the quorum: its messages are
    // sent only after the Ready carrying these entries is persisted.
    this.prs.progress.get(this.id)!.maybeUpdate(last);
    this.maybeCommit();
  }

  becomeFollower(term: number, lead: bigint): void {
    this.stepFn = (m) => stepFollower(this, m);
    this.reset(term);
    this.tickFn = () => this.tickElection();
    this.lead = lead;
    this.state = Role.Follower;
    this.logger.info(`${this.hid} became follower at term ${this.term}`);
  }

  private becomeCandidate(): void {
    assert(this.state !== Role.Leader, "invalid transition [leader -> candidate]");
    this.stepFn = (m) => stepCandidate(this, m);
    this.reset(this.term + 1);
    this.tickFn = () => this.tickElection();
    this.vote = this.id;
    this.state = Role.Candidate;
    this.logger.info(`${this.hid} became candidate at term ${this.term}`);
  }

  private becomePreCandidate(): void {
    assert(this.state !== Role.Leader, "invalid transition [leader -> pre-candidate]");
    // Pre-candidates keep their term and vote (thesis §9.6).
    this.stepFn = (m) => stepCandidate(this, m);
    this.prs.resetVotes();
    this.tickFn = () => this.tickElection();
    this.lead = None;
    this.state = Role.PreCandidate;
    this.logger.info(`${this.hid} became pre-candidate at term ${this.term}`);
  }

  becomeLeader(): void {
    assert(this.state !== Role.Follower, "invalid transition [follower -> leader]");
    this.stepFn = (m) => stepLeader(this, m);
    this.reset(this.term);
    this.tickFn = () => this.tickHeartbeat();
    this.lead = this.id;
    this.state = Role.Leader;
    const self = this.prs.progress.get(this.id)!;
    self.becomeReplicate();
    self.recentActive = true;
    // Conservatively assume the tail of the log holds an unapplied conf change.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // The no-op entry lets the leader commit entries of earlier terms (thesis §3.6.2).
    this.appendEntry([{ type: EntryType.Normal, data: new Uint8Array(0) }]);
    this.logger.info(`${this.hid} became leader at term ${this.term}`);
  }

  private promotable(): boolean {
    const pr = this.prs.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasPendingSnapshot();
  }

  hup(t: CampaignType): void {
    if (this.state === Role.Leader) {
      this.logger.debug(`${this.hid} ignoring MsgHup because already leader`);
      return;
    }
    if (!this.promotable()) {
      this.logger.warn(`${this.hid} is unpromotable and can not campaign`);
      return;
    }
    const lo = Math.max(this.raftLog.applied + 1, this.raftLog.firstIndex());
    const ents = lo <= this.raftLog.committed ? this.raftLog.slice(lo, this.raftLog.committed + 1, undefined) : [];
    const pending = ents.filter((e) => e.type === EntryType.ConfChange).length;
    if (pending !== 0) {
      this.logger.warn(`${this.hid} cannot campaign at term ${this.term} since there are still ${pending} pending configuration changes to apply`);
      return;
    }
    this.logger.info(`${this.hid} is starting a new election at term ${this.term}`);
    this.campaign(t);
  }

  campaign(t: CampaignType): void {
    let term: number;
    let voteMsg: MessageType;
    if (t === "CampaignPreElection") {
      this.becomePreCandidate();
      voteMsg = M.MsgPreVote;
      // Pre-votes ask for the next term without raising ours.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = M.MsgVote;
      term = this.term;
    }
    if (this.poll(this.id, voteRespType(voteMsg), true) === VoteResult.Won) {
      // Single-voter configuration: won already.
      if (t === "CampaignPreElection") this.campaign("CampaignElection");
      else this.becomeLeader();
      return;
    }
    for (const id of this.prs.voterIds()) {
      if (id === this.id) continue;
      this.logger.info(
        `${this.hid} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}] sent ${messageTypeName[voteMsg]} request to ${hexId(id)} at term ${this.term}`,
      );
      this.send(msg({
        type: voteMsg, to: id, term, index: this.raftLog.lastIndex(), logTerm: this.raftLog.lastTerm(),
        ...(t === "CampaignTransfer" ? { context: campaignTransferCtx } : {}),
      }));
    }
  }

  poll(id: bigint, t: MessageType, granted: boolean): VoteResult {
    if (granted) this.logger.info(`${this.hid} received ${messageTypeName[t]} from ${hexId(id)} at term ${this.term}`);
    else this.logger.info(`${this.hid} received ${messageTypeName[t]} rejection from ${hexId(id)} at term ${this.term}`);
    this.prs.recordVote(id, granted);
    const { granted: gr, rejected: rj, result } = this.prs.tallyVotes();
    this.logger.info(`${this.hid} has received ${gr} ${messageTypeName[t]} votes and ${rj} vote rejections`);
    return result;
  }

  // ---- stepping ------------------------------------------------------------------------------

  step(m: Message): void {
    if (m.term === 0) {
      // local message
    } else if (m.term > this.term) {
      if (m.type === M.MsgVote || m.type === M.MsgPreVote) {
        const force = isTransferCtx(m.context);
        // Leader stickiness (thesis §4.2.3): ignore votes while we heard from a leader recently.
        const inLease = this.checkQuorum && this.lead !== None && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) {
          this.logger.info(
            `${this.hid} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${hexId(this.vote)}] ignored ${messageTypeName[m.type]} from ${hexId(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}: lease is not expired (remaining ticks: ${this.electionTimeout - this.electionElapsed})`,
          );
          return;
        }
      }
      if (m.type === M.MsgPreVote) {
        // Never change our term in response to a pre-vote.
      } else if (m.type === M.MsgPreVoteResp && !m.reject) {
        // A granted pre-vote carries the future term; the term changes once a quorum grants.
      } else {
        this.logger.info(`${this.hid} [term: ${this.term}] received a ${messageTypeName[m.type]} message with higher term from ${hexId(m.from)} [term: ${m.term}]`);
        const leaderMsg = m.type === M.MsgApp || m.type === M.MsgHeartbeat || m.type === M.MsgSnap;
        this.becomeFollower(m.term, leaderMsg ? m.from : None);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === M.MsgHeartbeat || m.type === M.MsgApp)) {
        // A node partitioned away may have raised its term; tell the stale leader so that it
        // steps down (or so the lagging node learns the new term), rather than staying silent.
        this.send(msg({ type: M.MsgAppResp, to: m.from }));
      } else if (m.type === M.MsgPreVote) {
        this.logger.info(`${this.hid} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${hexId(this.vote)}] rejected ${messageTypeName[m.type]} from ${hexId(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`);
        this.send(msg({ type: M.MsgPreVoteResp, to: m.from, term: this.term, reject: true }));
      } else {
        this.logger.info(`${this.hid} [term: ${this.term}] ignored a ${messageTypeName[m.type]} message with lower term from ${hexId(m.from)} [term: ${m.term}]`);
      }
      return;
    }

    switch (m.type) {
      case M.MsgHup:
        this.hup(this.preVote ? "CampaignPreElection" : "CampaignElection");
        return;
      case M.MsgVote:
      case M.MsgPreVote: {
        const canVote =
          this.vote === m.from ||
          (this.vote === None && this.lead === None) ||
          (m.type === M.MsgPreVote && m.term > this.term);
        const desc = `${this.hid} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${hexId(this.vote)}]`;
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
          this.logger.info(`${desc} cast ${messageTypeName[m.type]} for ${hexId(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`);
          // The response carries the message's term: for a pre-vote that is the future term.
          this.send(msg({ type: voteRespType(m.type), to: m.from, term: m.term }));
          if (m.type === M.MsgVote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.logger.info(`${desc} rejected ${messageTypeName[m.type]} from ${hexId(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`);
          this.send(msg({ type: voteRespType(m.type), to: m.from, term: this.term, reject: true }));
        }
        return;
      }
      default:
        this.stepFn(m);
    }
  }

  /** Installs a snapshot from the leader; false if it is stale or already covered by our log. */
  restore(s: Snapshot): boolean {
    if (s.meta.index <= this.raftLog.committed) return false;
    if (this.state !== Role.Follower) {
      // Defense in depth: only a follower of the snapshot's sender may restore.
      this.logger.warn(`${this.hid} attempted to restore snapshot as leader; should never happen`);
      this.becomeFollower(this.term + 1, None);
      return false;
    }
    const cs = s.meta.confState;
    if (!cs.voters.includes(this.id) && !cs.learners.includes(this.id)) {
      this.logger.warn(`${this.hid} attempted to restore snapshot but it is not in the ConfState ${describeConfState(cs)}; should never happen`);
      return false;
    }
    if (this.raftLog.matchTerm(s.meta.index, s.meta.term)) {
      // Our log already has the snapshot's last entry: just fast-forward the commit index.
      this.logger.info(`${this.hid} [commit: ${this.raftLog.committed}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}] fast-forwarded commit to snapshot [index: ${s.meta.index}, term: ${s.meta.term}]`);
      this.raftLog.commitTo(s.meta.index);
      return false;
    }
    this.raftLog.restore(s);
    this.prs = new ProgressTracker(this.prs.maxInflight);
    this.switchToConfig(cs);
    return true;
  }

  // ---- ticks ---------------------------------------------------------------------------------

  tick(): void {
    this.tickFn();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(msg({ type: M.MsgHup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(msg({ type: M.MsgCheckQuorum, from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.state === Role.Leader && this.leadTransferee !== None) this.abortLeaderTransfer();
    }
    if (this.state !== Role.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(msg({ type: M.MsgBeat, from: this.id }));
    }
  }

  // ---- read index ----------------------------------------------------------------------------

  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.zeroTermOnCompacted(this.raftLog.committed) === this.term;
  }

  releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) this.sendReadIndexQuorumCheck(m);
  }

  sendReadIndexQuorumCheck(m: Message): void {
    const ctx = m.entries[0]!.data;
    this.readOnly.addRequest(this.raftLog.committed, m);
    this.readOnly.recvAck(this.id, ctx);
    this.bcastHeartbeatWithCtx(ctx);
  }

  respondToReadIndex(req: Message, readIndex: number): void {
    if (req.from === None || req.from === this.id) {
      this.readStates.push({ index: readIndex, requestCtx: req.entries[0]!.data });
      return;
    }
    this.send(msg({ type: M.MsgReadIndexResp, to: req.from, index: readIndex, entries: req.entries }));
  }

  // ---- leader transfer & configuration -------------------------------------------------------

  abortLeaderTransfer(): void {
    this.leadTransferee = None;
  }

  /** Applies a committed conf change; returns the resulting configuration. */
  applyConfChange(cc: ConfChange): ConfState {
    const out = nextConfState(this.prs.confState(), cc);
    if (!out.ok) {
      this.logger.warn(`${this.hid} ignored conf change: ${out.reason}`);
      return this.prs.confState();
    }
    return this.switchToConfig(out.confState);
  }

  private switchToConfig(cs: ConfState): ConfState {
    this.prs.applyConfState(cs, this.raftLog.lastIndex());
    this.logger.info(`${this.hid} switched to configuration ${describeConfState(cs)}`);
    const self = this.prs.progress.get(this.id);
    this.isLearner = self?.isLearner ?? false;
    if ((!self || this.isLearner) && this.state === Role.Leader) {
      // Removed (or demoted) leader: step down so the remaining voters elect a new leader.
      this.logger.info(`${this.hid} stepping down: no longer a voter`);
      this.becomeFollower(this.term, None);
      return this.prs.confState();
    }
    if (this.state !== Role.Leader || cs.voters.length === 0) return this.prs.confState();
    // The quorum changed: the commit index may advance, and new members need entries.
    if (this.maybeCommit()) this.bcastAppend();
    else for (const id of this.prs.ids()) if (id !== this.id) this.maybeSendAppend(id, false);
    if (this.leadTransferee !== None && !this.prs.voters.has(this.leadTransferee)) this.abortLeaderTransfer();
    return this.prs.confState();
  }

  /** Called by RawNode.advance: entries handed out were persisted and applied. */
  advance(appliedTo: number, stableTo: Entry | undefined, snapIndex: number | undefined): void {
    if (appliedTo > 0) this.raftLog.appliedTo(appliedTo);
    if (stableTo) this.raftLog.stableTo(stableTo.index, stableTo.term);
    if (snapIndex !== undefined) this.raftLog.stableSnapTo(snapIndex);
  }

  /** For RawNode.step: rejects local message kinds arriving from outside. */
  static isLocal(m: Message): boolean {
    return isLocalMsg(m.type);
  }
}
