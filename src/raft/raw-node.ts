// RawNode: the synchronous, thread-unsafe interface to one Raft member (etcd's raft.RawNode).
//
// The caller drives it: tick() on a timer, step() for each received message, and a loop of
//   if (node.hasReady()) { const rd = node.ready(); persist(rd); send(rd.messages);
//                          apply(rd.snapshot, rd.committedEntries); node.advance(rd); }
// Persist (snapshot, entries, hardState) before sending that Ready's messages; apply after.

import { assert, hexId } from "./assert.ts";
import { encodeConfChange } from "./codec.ts";
import { ConfChangeType, type ConfChange } from "./conf-change.ts";
import type { Config } from "./config.ts";
import { isLocalMsg, isResponseMsg, MessageType as M, msg, type Message } from "./message.ts";
import type { ProgressState } from "./progress.ts";
import { None, ProposalDroppedError, Raft, type Role, type SoftState } from "./raft.ts";
import type { ReadState } from "./read-only.ts";
import { EntryType, type ConfState, type Entry, type HardState, type Snapshot } from "./types.ts";

export interface Ready {
  /** Set when leader or role changed since the previous Ready. */
  readonly softState?: SoftState;
  /** Set when term, vote or commit changed: persist it. */
  readonly hardState?: HardState;
  /** Append these to stable storage before sending messages. */
  readonly entries: readonly Entry[];
  /** Set when a snapshot arrived from the leader: persist it, then apply it to the state machine. */
  readonly snapshot?: Snapshot;
  /** Apply these to the state machine, in order, after persisting. */
  readonly committedEntries: readonly Entry[];
  /** Send after persisting. MsgSnap: report the outcome with reportSnapshot(). */
  readonly messages: readonly Message[];
  /** Answers to readIndex(): serve a read once applied >= index. */
  readonly readStates: readonly ReadState[];
  /** Whether the writes must be fsynced (entries or term/vote changed). */
  readonly mustSync: boolean;
}

export interface PeerProgress {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly isLearner: boolean;
  readonly recentActive: boolean;
}

export interface Status {
  readonly id: bigint;
  readonly term: number;
  readonly vote: bigint;
  readonly commit: number;
  readonly lead: bigint;
  readonly role: Role;
  readonly applied: number;
  readonly leadTransferee: bigint;
  readonly config: ConfState;
  /** Only on the leader. */
  readonly progress: ReadonlyMap<bigint, PeerProgress>;
}

export class StepLocalMsgError extends Error {
  constructor() {
    super("raft: cannot step raft local message");
  }
}
export class StepPeerNotFoundError extends Error {
  constructor() {
    super("raft: cannot step as peer not found");
  }
}

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export class RawNode {
  readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** A Ready was handed out and not yet advanced. */
  private outstanding = false;

  constructor(config: Config) {
    this.raft = new Raft(config);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
  }

  /**
   * Starts a brand-new cluster member with `peers` as initial voters, like etcd's Bootstrap:
   * ConfChange entries at indexes 1..n of term 1, already committed. Storage must be empty.
   */
  bootstrap(peers: readonly { id: bigint; context?: Uint8Array }[]): void {
    assert(peers.length > 0, "must provide at least one peer to Bootstrap");
    const r = this.raft;
    assert(r.raftLog.lastIndex() === 0, "can't bootstrap a nonempty Storage");
    // Term 1 with no leader; the entries are applied like any conf change.
    r.becomeFollower(1, None);
    const ents: Entry[] = peers.map((p, i) => ({
      term: 1,
      index: i + 1,
      type: EntryType.ConfChange,
      data: encodeConfChange({ type: ConfChangeType.AddNode, nodeId: p.id, id: 0n, context: p.context ?? new Uint8Array(0) }),
    }));
    r.raftLog.append(ents);
    r.raftLog.committed = ents.length;
    for (const p of peers) r.applyConfChange({ type: ConfChangeType.AddNode, nodeId: p.id, id: 0n, context: new Uint8Array(0) });
  }

  tick(): void {
    this.raft.tick();
  }

  /** Forces an election now (instead of waiting for the election timeout). */
  campaign(): void {
    this.raft.step(msg({ type: M.MsgHup }));
  }

  /** Proposes data for the log; throws ProposalDroppedError if it cannot be accepted. */
  propose(data: Uint8Array): void {
    this.raft.step(msg({ type: M.MsgProp, from: this.raft.id, entries: [{ term: 0, index: 0, type: EntryType.Normal, data }] }));
  }

  /** Proposes a membership change; apply it with applyConfChange() once committed. */
  proposeConfChange(cc: ConfChange): void {
    const data = encodeConfChange(cc);
    this.raft.step(msg({ type: M.MsgProp, from: this.raft.id, entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data }] }));
  }

  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /** Delivers a message received from a peer. */
  step(m: Message): void {
    if (isLocalMsg(m.type)) throw new StepLocalMsgError();
    if (isResponseMsg(m.type) && !this.raft.prs.progress.has(m.from)) throw new StepPeerNotFoundError();
    try {
      this.raft.step(m);
    } catch (e) {
      // A proposal forwarded by a peer that cannot be accepted here is dropped, as a lost
      // message would be: the proposer's client times out and retries.
      if (!(e instanceof ProposalDroppedError && m.type === M.MsgProp)) throw e;
    }
  }

  /** Requests a linearizable read point; the answer arrives as a ReadState with this ctx. */
  readIndex(ctx: Uint8Array): void {
    this.raft.step(msg({ type: M.MsgReadIndex, entries: [{ term: 0, index: 0, type: EntryType.Normal, data: ctx }] }));
  }

  /** Asks the leader to hand leadership to `transferee` (thesis §3.10). */
  transferLeader(transferee: bigint): void {
    this.raft.step(msg({ type: M.MsgTransferLeader, from: transferee }));
  }

  reportUnreachable(id: bigint): void {
    this.raft.step(msg({ type: M.MsgUnreachable, from: id }));
  }

  reportSnapshot(id: bigint, ok: boolean): void {
    this.raft.step(msg({ type: M.MsgSnapStatus, from: id, reject: !ok }));
  }

  hasReady(): boolean {
    const r = this.raft;
    // Fields compared directly: this runs on every loop turn and must not allocate.
    if (r.lead !== this.prevSoftState.lead || r.state !== this.prevSoftState.role) return true;
    const phs = this.prevHardState;
    if (r.term !== phs.term || r.vote !== phs.vote || r.raftLog.committed !== phs.commit) return true;
    if (r.raftLog.hasPendingSnapshot()) return true;
    if (r.msgs.length > 0 || r.raftLog.unstable.entries.length > 0 || r.raftLog.hasNextEnts()) return true;
    return r.readStates.length > 0;
  }

  ready(): Ready {
    assert(!this.outstanding, "ready() called again before advance()");
    const r = this.raft;
    const ss = r.softState();
    const hs = r.hardState();
    const entries = r.raftLog.unstableEntries();
    const softChanged = ss.lead !== this.prevSoftState.lead || ss.role !== this.prevSoftState.role;
    const hardChanged = !hardStateEqual(hs, this.prevHardState);
    const snap = r.raftLog.unstable.snapshot;
    const rd: Ready = {
      ...(softChanged ? { softState: ss } : {}),
      ...(hardChanged ? { hardState: hs } : {}),
      entries,
      ...(snap ? { snapshot: snap } : {}),
      committedEntries: r.raftLog.nextEnts(),
      messages: r.msgs,
      readStates: r.readStates,
      mustSync: entries.length > 0 || hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote,
    };
    if (softChanged) this.prevSoftState = ss;
    r.msgs = [];
    r.readStates = [];
    this.outstanding = true;
    return rd;
  }

  /** The Ready was persisted, its messages sent and its committed entries applied. */
  advance(rd: Ready): void {
    assert(this.outstanding, "advance() without a Ready");
    this.outstanding = false;
    if (rd.hardState) this.prevHardState = rd.hardState;
    let applied = 0;
    if (rd.committedEntries.length > 0) applied = rd.committedEntries[rd.committedEntries.length - 1]!.index;
    else if (rd.snapshot) applied = rd.snapshot.meta.index;
    this.raft.advance(applied, rd.entries[rd.entries.length - 1], rd.snapshot?.meta.index);
  }

  status(): Status {
    const r = this.raft;
    const progress = new Map<bigint, PeerProgress>();
    if (r.state === "StateLeader") {
      for (const [id, pr] of r.prs.progress) {
        progress.set(id, { match: pr.match, next: pr.next, state: pr.state, isLearner: pr.isLearner, recentActive: pr.recentActive });
      }
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.raftLog.committed,
      lead: r.lead,
      role: r.state,
      applied: r.raftLog.applied,
      leadTransferee: r.leadTransferee,
      config: r.prs.confState(),
      progress,
    };
  }

  toString(): string {
    return `RawNode(${hexId(this.raft.id)})`;
  }
}
