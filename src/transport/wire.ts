// The peer protocol's fixed parts: header names, etcd's texts, id formatting and the batch framing
// of raft messages. A batch body is a sequence of `[u32 BE length][encoded message]` frames.
import { CodecError, decodeMessage, encodeMessage } from "../raft/codec.ts";
import { isLocalMsg, MessageType, type Message } from "../raft/message.ts";

export const Header = {
  clusterId: "x-etcd-cluster-id",
  from: "x-server-from",
  version: "x-server-version",
  /** The member a request is meant for: a request reaching another member is refused. */
  to: "x-raft-to",
} as const;

export const Paths = {
  raft: "/raft",
  /** GET with `Upgrade: conclave-raft/1`: a long-lived one-way stream of message frames. */
  stream: "/raft/stream",
  snapshot: "/raft/snapshot",
  members: "/members",
  raftStatus: "/raft/status",
  version: "/version",
  leases: "/leases",
  leasesInternal: "/leases/internal",
  /** POST /members/promote/<decimal member ID>, as etcd's peer handler. */
  memberPromote: "/members/promote/",
} as const;

/**
 * A MsgSnap's snapshot.data names the length of the image that follows it (8 bytes, big-endian):
 * the receiver refuses an image that ends short, so a sender cut off half-way (its copy closed,
 * its request ended) can never have a truncated image installed. Empty data: length unknown.
 */
export function imageLengthData(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

/** The image length a MsgSnap announces, if it does (see imageLengthData). */
export function announcedImageLength(m: Message): number | undefined {
  const d = m.snapshot?.data;
  if (d === undefined || d.length !== 8) return undefined;
  return Number(new DataView(d.buffer, d.byteOffset, 8).getBigUint64(0));
}

/** The protocol named in the Upgrade header of a message stream. */
export const STREAM_PROTOCOL = "conclave-raft/1";

/** What the member reports as its version (etcd 3.4's peer API). */
export const SERVER_VERSION = "3.4.23";
export const CLUSTER_VERSION = "3.4.0";

/** etcd's texts: the sender recognises the answers by them. */
export const Texts = {
  clusterMismatch: "request cluster ID mismatch",
  removed: "the member has been permanently removed from the cluster",
  toMismatch: "to field mismatch",
  /** rafthttp's answer to a sender that is not a member. */
  senderNotFound: "error sender not found",
  invalidFrom: "invalid from",
} as const;

/** etcd's texts on a refused POST /members/promote (membership.Err*, etcdserver.ErrLearnerNotReady). */
export const PromoteTexts = {
  notFound: "membership: ID not found",
  notLearner: "membership: can only promote a learner member",
  notReady: "etcdserver: can only promote a learner member which is in sync with leader",
} as const;

const U64_MAX = (1n << 64n) - 1n;
const HEX_ID = /^[0-9a-f]{1,16}$/i;
const DEC_ID = /^[0-9]{1,20}$/;

export function formatId(id: bigint): string {
  return id.toString(16);
}

/** A hex member/cluster ID, or undefined when the text is not one. */
export function parseHexId(s: string | null | undefined): bigint | undefined {
  if (s === null || s === undefined || !HEX_ID.test(s)) return undefined;
  return BigInt(`0x${s}`);
}

/** A decimal uint64 (lease IDs travel as decimal strings, like etcd's JSON). */
export function parseDecimalId(s: unknown): bigint | undefined {
  if (typeof s === "number" && Number.isSafeInteger(s) && s >= 0) return BigInt(s);
  if (typeof s !== "string" || !DEC_ID.test(s)) return undefined;
  const n = BigInt(s);
  return n <= U64_MAX ? n : undefined;
}

/** Frames already-encoded messages into one body. */
export function frameBatch(encoded: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const e of encoded) size += 4 + e.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let pos = 0;
  for (const e of encoded) {
    view.setUint32(pos, e.length);
    out.set(e, pos + 4);
    pos += 4 + e.length;
  }
  return out;
}

export function encodeBatch(msgs: readonly Message[]): Uint8Array {
  return frameBatch(msgs.map(encodeMessage));
}

/**
 * Decodes a whole batch or throws CodecError: a batch is delivered entirely or not at all.
 */
export function decodeBatch(body: Uint8Array): Message[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const out: Message[] = [];
  let pos = 0;
  while (pos < body.length) {
    if (pos + 4 > body.length) throw new CodecError(`truncated frame header at byte ${pos}`);
    const len = view.getUint32(pos);
    pos += 4;
    if (pos + len > body.length) throw new CodecError(`frame of ${len} bytes overruns the body at byte ${pos}`);
    const m = decodeWireMessage(body.subarray(pos, pos + len));
    pos += len;
    out.push(m);
  }
  return out;
}

/**
 * One message as it may travel on /raft or a stream, or CodecError. Local messages and MsgSnap
 * (which travels with its image on /raft/snapshot) are refused.
 */
export function decodeWireMessage(bytes: Uint8Array): Message {
  const m = decodeMessage(bytes);
  if (isLocalMsg(m.type)) throw new CodecError(`local message type ${m.type} sent over the network`);
  if (m.type === MessageType.MsgSnap) throw new CodecError("MsgSnap belongs on /raft/snapshot");
  return m;
}

/** The prefix of a snapshot body: one frame holding the MsgSnap. */
export function frameOne(m: Message): Uint8Array {
  return frameBatch([encodeMessage(m)]);
}

/** A connection's remote address as Go's http.Request.RemoteAddr prints it ("[::1]:2380" for IPv6). */
export function remoteAddr(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  const host = socket.remoteAddress ?? "";
  return `${host.includes(":") ? `[${host}]` : host}:${socket.remotePort ?? 0}`;
}
