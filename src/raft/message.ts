// Raft messages, with etcd's message kinds and numbering (raftpb.MessageType).

import type { Entry, Snapshot } from "./types.ts";

export const MessageType = {
  MsgHup: 0,
  MsgBeat: 1,
  MsgProp: 2,
  MsgApp: 3,
  MsgAppResp: 4,
  MsgVote: 5,
  MsgVoteResp: 6,
  MsgSnap: 7,
  MsgHeartbeat: 8,
  MsgHeartbeatResp: 9,
  MsgUnreachable: 10,
  MsgSnapStatus: 11,
  MsgCheckQuorum: 12,
  MsgTransferLeader: 13,
  MsgTimeoutNow: 14,
  MsgReadIndex: 15,
  MsgReadIndexResp: 16,
  MsgPreVote: 17,
  MsgPreVoteResp: 18,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export const messageTypeName: readonly string[] = Object.keys(MessageType);

export function isMessageType(n: number): n is MessageType {
  return Number.isInteger(n) && n >= 0 && n < messageTypeName.length;
}

export interface Message {
  readonly type: MessageType;
  readonly to: bigint;
  readonly from: bigint;
  /** 0 for local messages and for forwarded MsgProp/MsgReadIndex. */
  readonly term: number;
  /** MsgApp: term of the entry at `index`; MsgVote: candidate's last term; reject: hint term. */
  readonly logTerm: number;
  /** MsgApp: index preceding `entries`; MsgAppResp: last matched (or rejected) index. */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly snapshot?: Snapshot;
  readonly reject: boolean;
  readonly rejectHint: number;
  /** Heartbeats: the ReadIndex request context; votes: "CampaignTransfer" when forced. */
  readonly context: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** A message with every omitted field at its zero value. */
export function msg(m: Partial<Message> & { type: MessageType }): Message {
  return {
    type: m.type,
    to: m.to ?? 0n,
    from: m.from ?? 0n,
    term: m.term ?? 0,
    logTerm: m.logTerm ?? 0,
    index: m.index ?? 0,
    entries: m.entries ?? [],
    commit: m.commit ?? 0,
    ...(m.snapshot !== undefined ? { snapshot: m.snapshot } : {}),
    reject: m.reject ?? false,
    rejectHint: m.rejectHint ?? 0,
    context: m.context ?? EMPTY,
  };
}

/** Messages a node generates for itself; never sent over the network. */
export function isLocalMsg(t: MessageType): boolean {
  return (
    t === MessageType.MsgHup ||
    t === MessageType.MsgBeat ||
    t === MessageType.MsgUnreachable ||
    t === MessageType.MsgSnapStatus ||
    t === MessageType.MsgCheckQuorum
  );
}

export function isResponseMsg(t: MessageType): boolean {
  return (
    t === MessageType.MsgAppResp ||
    t === MessageType.MsgVoteResp ||
    t === MessageType.MsgHeartbeatResp ||
    t === MessageType.MsgUnreachable ||
    t === MessageType.MsgPreVoteResp
  );
}

export function voteRespType(t: MessageType): MessageType {
  if (t === MessageType.MsgVote) return MessageType.MsgVoteResp;
  if (t === MessageType.MsgPreVote) return MessageType.MsgPreVoteResp;
  throw new Error(`not a vote message: ${messageTypeName[t]}`);
}
