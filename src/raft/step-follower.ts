// How the roles without the lead step a message (etcd's stepCandidate and stepFollower in
// raft.go), and how they take what a leader sends: appends, heartbeats and snapshots. Apart
// from raft.ts, which holds the state and the transitions between roles; like etcd's Go these
// are free functions over the Raft, installed as its step function by becomeFollower,
// becomeCandidate and becomePreCandidate.

import { assert, hexId } from "./assert.ts";
import { MessageType as M, msg, type Message } from "./message.ts";
import { None, ProposalDroppedError, Role, type Raft } from "./raft.ts";
import { VoteResult } from "./tracker.ts";

export function stepCandidate(r: Raft, m: Message): void {
  const myVoteResp = r.state === Role.PreCandidate ? M.MsgPreVoteResp : M.MsgVoteResp;
  switch (m.type) {
    case M.MsgProp:
      r.logger.info(`${r.hid} no leader at term ${r.term}; dropping proposal`);
      throw new ProposalDroppedError();
    case M.MsgApp:
      r.becomeFollower(m.term, m.from);
      handleAppendEntries(r, m);
      return;
    case M.MsgHeartbeat:
      r.becomeFollower(m.term, m.from);
      handleHeartbeat(r, m);
      return;
    case M.MsgSnap:
      r.becomeFollower(m.term, m.from);
      handleSnapshot(r, m);
      return;
    case myVoteResp: {
      const res = r.poll(m.from, m.type, !m.reject);
      if (res === VoteResult.Won) {
        if (r.state === Role.PreCandidate) {
          r.campaign("CampaignElection");
        } else {
          r.becomeLeader();
          r.bcastAppend();
        }
      } else if (res === VoteResult.Lost) {
        // A pre-vote response with a higher term made us follower already in step().
        r.becomeFollower(r.term, None);
      }
      return;
    }
    case M.MsgTimeoutNow:
      r.logger.debug(`${r.hid} [term ${r.term} state ${r.state}] ignored MsgTimeoutNow from ${hexId(m.from)}`);
      return;
    default:
      return;
  }
}

export function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case M.MsgProp:
      if (r.lead === None) {
        r.logger.info(`${r.hid} no leader at term ${r.term}; dropping proposal`);
        throw new ProposalDroppedError();
      }
      if (r.disableProposalForwarding) {
        r.logger.info(`${r.hid} not forwarding to leader ${hexId(r.lead)} at term ${r.term}; dropping proposal`);
        throw new ProposalDroppedError();
      }
      r.send({ ...m, to: r.lead });
      return;
    case M.MsgApp:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleAppendEntries(r, m);
      return;
    case M.MsgHeartbeat:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleHeartbeat(r, m);
      return;
    case M.MsgSnap:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleSnapshot(r, m);
      return;
    case M.MsgTransferLeader:
      forwardToLeader(r, m, "leader transfer");
      return;
    case M.MsgTimeoutNow:
      r.logger.info(`${r.hid} [term ${r.term}] received MsgTimeoutNow from ${hexId(m.from)} and starts an election to get leadership.`);
      // Leadership transfers never use pre-vote: the current leader asked for this election.
      r.hup("CampaignTransfer");
      return;
    case M.MsgReadIndex:
      forwardToLeader(r, m, "index reading");
      return;
    case M.MsgReadIndexResp:
      if (m.entries.length !== 1) {
        r.logger.warn(`${r.hid} invalid format of MsgReadIndexResp from ${hexId(m.from)}, entries count: ${m.entries.length}`);
        return;
      }
      r.readStates.push({ index: m.index, requestCtx: m.entries[0]!.data });
      return;
    default:
      return;
  }
}

function handleAppendEntries(r: Raft, m: Message): void {
  if (m.index < r.raftLog.committed) {
    r.send(msg({ type: M.MsgAppResp, to: m.from, index: r.raftLog.committed }));
    return;
  }
  const last = r.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (last !== undefined) {
    r.send(msg({ type: M.MsgAppResp, to: m.from, index: last }));
    return;
  }
  r.logger.debug(`${r.hid} [logterm: ${r.raftLog.zeroTermOnCompacted(m.index)}, index: ${m.index}] rejected MsgApp [logterm: ${m.logTerm}, index: ${m.index}] from ${hexId(m.from)}`);
  // Hint the leader at the largest index that might match, skipping our entries with terms
  // above the leader's term at m.index: they cannot match (see findConflictByTerm).
  const hint = Math.min(m.index, r.raftLog.lastIndex());
  const [hintIndex, hintTerm] = r.raftLog.findConflictByTerm(hint, m.logTerm);
  r.send(msg({ type: M.MsgAppResp, to: m.from, index: m.index, reject: true, rejectHint: hintIndex, logTerm: hintTerm }));
}

function handleHeartbeat(r: Raft, m: Message): void {
  r.raftLog.commitTo(m.commit);
  r.send(msg({ type: M.MsgHeartbeatResp, to: m.from, context: m.context }));
}

function handleSnapshot(r: Raft, m: Message): void {
  const s = m.snapshot;
  assert(s !== undefined, "MsgSnap without snapshot");
  if (r.restore(s)) {
    r.logger.info(`${r.hid} [commit: ${r.raftLog.committed}] restored snapshot [index: ${s.meta.index}, term: ${s.meta.term}]`);
    r.send(msg({ type: M.MsgAppResp, to: m.from, index: r.raftLog.lastIndex() }));
  } else {
    r.logger.info(`${r.hid} [commit: ${r.raftLog.committed}] ignored snapshot [index: ${s.meta.index}, term: ${s.meta.term}]`);
    r.send(msg({ type: M.MsgAppResp, to: m.from, index: r.raftLog.committed }));
  }
}

/** A follower hands a message meant for the leader on to it; without a leader it is dropped. */
function forwardToLeader(r: Raft, m: Message, what: string): void {
  if (r.lead === None) {
    r.logger.info(`${r.hid} no leader at term ${r.term}; dropping ${what} msg`);
    return;
  }
  r.send({ ...m, to: r.lead });
}
