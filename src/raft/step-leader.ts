// How a leader steps a message (etcd's stepLeader in raft.go): proposals, read-index requests,
// replication responses, snapshot status and leadership transfer. Apart from raft.ts because
// it is the largest role's whole message handling; like etcd's Go it is a free function over
// the Raft, which installs it as the step function when it becomes leader.

import { assert, hexId } from "./assert.ts";
import { MessageType as M, type Message } from "./message.ts";
import { ProgressState } from "./progress.ts";
import { None, ProposalDroppedError, type Raft } from "./raft.ts";
import { VoteResult } from "./tracker.ts";
import { EntryType } from "./types.ts";

export function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case M.MsgBeat:
      r.bcastHeartbeat();
      return;
    case M.MsgCheckQuorum: {
      const self = r.prs.progress.get(r.id);
      if (self) self.recentActive = true;
      if (!r.prs.quorumActive()) {
        r.logger.warn(`${r.hid} stepped down to follower since quorum is not active`);
        r.becomeFollower(r.term, None);
      }
      for (const [id, pr] of r.prs.progress) if (id !== r.id) pr.recentActive = false;
      return;
    }
    case M.MsgProp: {
      assert(m.entries.length > 0, `${r.hid} stepped empty MsgProp`);
      if (!r.prs.progress.has(r.id)) throw new ProposalDroppedError();
      if (r.leadTransferee !== None) {
        r.logger.debug(`${r.hid} [term ${r.term}] transfer leadership to ${hexId(r.leadTransferee)} is in progress; dropping proposal`);
        throw new ProposalDroppedError();
      }
      const ents = m.entries.map((e, i) => {
        if (e.type !== EntryType.ConfChange) return { type: e.type, data: e.data };
        if (r.pendingConfIndex > r.raftLog.applied) {
          r.logger.info(`${r.hid} ignoring conf change at index ${r.raftLog.lastIndex() + i + 1} since pending conf change at index ${r.pendingConfIndex} is not yet applied (applied: ${r.raftLog.applied})`);
          // Keep the slot so indexes stay as the proposer expects, but make it a no-op.
          return { type: EntryType.Normal, data: new Uint8Array(0) };
        }
        r.pendingConfIndex = r.raftLog.lastIndex() + i + 1;
        return { type: e.type, data: e.data };
      });
      r.appendEntry(ents);
      r.bcastAppend();
      return;
    }
    case M.MsgReadIndex: {
      if (r.prs.isSingleton()) {
        r.respondToReadIndex(m, r.raftLog.committed);
        return;
      }
      // Until an entry of this term commits, the leader's commit index may lag (thesis §6.4).
      if (!r.committedEntryInCurrentTerm()) {
        r.pendingReadIndexMessages.push(m);
        return;
      }
      r.sendReadIndexQuorumCheck(m);
      return;
    }
    default:
      break;
  }

  const pr = r.prs.progress.get(m.from);
  if (!pr) {
    r.logger.debug(`${r.hid} no progress available for ${hexId(m.from)}`);
    return;
  }
  switch (m.type) {
    case M.MsgAppResp: {
      pr.recentActive = true;
      if (m.reject) {
        r.logger.debug(`${r.hid} received MsgAppResp(rejected, hint: (index ${m.rejectHint}, term ${m.logTerm})) from ${hexId(m.from)} for index ${m.index}`);
        let nextProbeIdx = m.rejectHint;
        if (m.logTerm > 0) nextProbeIdx = r.raftLog.findConflictByTerm(m.rejectHint, m.logTerm)[0];
        if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
          r.logger.debug(`${r.hid} decreased progress of ${hexId(m.from)} to [${pr}]`);
          if (pr.state === ProgressState.Replicate) pr.becomeProbe();
          r.sendAppend(m.from);
        }
        return;
      }
      const oldPaused = pr.isPaused();
      if (!pr.maybeUpdate(m.index)) return;
      if (pr.state === ProgressState.Probe) {
        pr.becomeReplicate();
      } else if (pr.state === ProgressState.Snapshot && pr.match >= pr.pendingSnapshot) {
        r.logger.debug(`${r.hid} recovered from needing snapshot, resumed sending replication messages to ${hexId(m.from)} [${pr}]`);
        pr.becomeProbe();
        pr.becomeReplicate();
      } else if (pr.state === ProgressState.Replicate) {
        pr.inflights.freeLE(m.index);
      }
      if (r.maybeCommit()) {
        r.releasePendingReadIndexMessages();
        r.bcastAppend();
      } else if (oldPaused) {
        r.sendAppend(m.from);
      }
      // Freed window slots may allow several size-limited messages at once.
      while (r.maybeSendAppend(m.from, false)) {
        // keep sending
      }
      if (m.from === r.leadTransferee && pr.match === r.raftLog.lastIndex()) {
        r.logger.info(`${r.hid} sent MsgTimeoutNow to ${hexId(m.from)} after received MsgAppResp`);
        r.sendTimeoutNow(m.from);
      }
      return;
    }
    case M.MsgHeartbeatResp: {
      pr.recentActive = true;
      pr.probeSent = false;
      // Free one slot of a full window so a lost MsgAppResp cannot stall replication.
      if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
      if (pr.match < r.raftLog.lastIndex()) r.sendAppend(m.from);
      if (m.context.length === 0) return;
      const acks = r.readOnly.recvAck(m.from, m.context);
      if (!acks || r.prs.voteResult((id) => (acks.has(id) ? true : undefined)) !== VoteResult.Won) return;
      for (const rs of r.readOnly.advance(m.context)) r.respondToReadIndex(rs.req, rs.index);
      return;
    }
    case M.MsgSnapStatus:
      if (pr.state !== ProgressState.Snapshot) return;
      if (m.reject) {
        pr.pendingSnapshot = 0;
        r.logger.debug(`${r.hid} snapshot failed, resumed sending replication messages to ${hexId(m.from)} [${pr}]`);
      } else {
        r.logger.debug(`${r.hid} snapshot succeeded, resumed sending replication messages to ${hexId(m.from)} [${pr}]`);
      }
      pr.becomeProbe();
      // Wait for the follower's MsgAppResp (or a heartbeat) before probing again.
      pr.probeSent = true;
      return;
    case M.MsgUnreachable:
      // Optimistic replication may have lost messages: go back to probing.
      if (pr.state === ProgressState.Replicate) pr.becomeProbe();
      r.logger.debug(`${r.hid} failed to send message to ${hexId(m.from)} because it is unreachable [${pr}]`);
      return;
    case M.MsgTransferLeader: {
      if (pr.isLearner) {
        r.logger.debug(`${r.hid} is learner. Ignored transferring leadership`);
        return;
      }
      const transferee = m.from;
      if (r.leadTransferee !== None) {
        if (r.leadTransferee === transferee) {
          r.logger.info(`${r.hid} [term ${r.term}] transfer leadership to ${hexId(transferee)} is in progress, ignores request to same node ${hexId(transferee)}`);
          return;
        }
        const previous = r.leadTransferee;
        r.abortLeaderTransfer();
        r.logger.info(`${r.hid} [term ${r.term}] abort previous transferring leadership to ${hexId(previous)}`);
      }
      if (transferee === r.id) {
        r.logger.debug(`${r.hid} is already leader. Ignored transferring leadership to self`);
        return;
      }
      r.logger.info(`${r.hid} [term ${r.term}] starts to transfer leadership to ${hexId(transferee)}`);
      // The transfer must finish within an election timeout (thesis §3.10).
      r.electionElapsed = 0;
      r.leadTransferee = transferee;
      if (pr.match === r.raftLog.lastIndex()) {
        r.sendTimeoutNow(transferee);
        r.logger.info(`${r.hid} sends MsgTimeoutNow to ${hexId(transferee)} immediately as ${hexId(transferee)} already has up-to-date log`);
      } else {
        r.sendAppend(transferee);
      }
      return;
    }
    default:
      return;
  }
}
