// The peer transport's contract with the server (src/server). Messages travel as encoded raft
// messages (src/raft/codec.ts); a MsgSnap travels with the state-machine image streamed after it.
// Every request carries the sender's cluster ID and member ID; the receiver refuses a different
// cluster ("request cluster ID mismatch") and members it has removed (410 Gone).
import type { Message } from "../raft/message.ts";
import type { Tls } from "../tls/index.ts";

/** A member as the peer API lists it (GET /members, etcd's JSON shape). */
export interface PeerMember {
  readonly id: bigint;
  readonly name: string;
  readonly peerURLs: readonly string[];
  readonly clientURLs: readonly string[];
  readonly isLearner: boolean;
}

/** What the transport calls on the local server. */
export interface PeerHandler {
  /** Raft messages from a peer, in the order received. Must not throw. */
  receive(msgs: Message[]): void;
  /** Raft message bytes read from and written to a peer (etcd_network_peer_*_bytes_total). */
  peerBytesReceived?(from: bigint, n: number): void;
  peerBytesSent?(to: bigint, n: number): void;
  /** Sends to a peer that failed or were dropped, and bad input from one (etcd_network_peer_*_failures_total). */
  peerSendFailures?(to: bigint, n: number): void;
  /**
   * A message body or frame from a peer that could not be read or decoded, labelled as etcd's
   * HTTP handlers label it: the connection's remote address ("127.0.0.1:43210", Go's
   * r.RemoteAddr), not a member ID, which a body that does not decode does not give.
   */
  peerReceiveFailure?(remoteAddr: string): void;
  /**
   * A MsgSnap with its image: the transport has written the image to `imagePath` (a temp file the
   * handler now owns). Resolve once the snapshot is installed (or rejected).
   */
  receiveSnapshot(m: Message, imagePath: string): Promise<void>;
  /** True when `id` was removed from the cluster: its requests get 410. */
  isRemoved(id: bigint): boolean;
  /**
   * Who may send: by default the transport's own peer table (the peers added with addPeer, as
   * etcd's rafthttp asks its peer getter); anyone else is refused before any body is read (404).
   * A handler may decide instead (tests).
   */
  isMember?(id: bigint): boolean;
  /** GET /members. */
  members(): PeerMember[];
  /** The member's raft progress facts for bootstrap checks: GET /raft/status. */
  raftStatus(): { term: number; commit: number; applied: number; leader: bigint };
  /** Lease keepalive forwarded by a follower (only the leader answers; others throw EtcdError). Returns the TTL (0 = not found). */
  leaseRenew(id: bigint): Promise<number>;
  /** Lease time-to-live forwarded by a follower: the remaining TTL in seconds (-1 = not found). */
  leaseRemaining(id: bigint): Promise<number>;
  /**
   * MemberPromote forwarded by a follower (POST /members/promote/<id>): only the leader sees the
   * learner's progress. Resolves with the member list after the change; throws EtcdError.
   */
  promoteMember(id: bigint): Promise<PeerMember[]>;
}

export interface PeerTransport {
  /** Start sending to a peer at any of its URLs (the first that answers). */
  addPeer(id: bigint, urls: readonly string[]): void;
  updatePeer(id: bigint, urls: readonly string[]): void;
  removePeer(id: bigint): void;
  /**
   * Queue messages (not MsgSnap) for their `to` peers. Non-blocking; per peer, messages queued in one
   * event-loop job go in one write on the peer's stream, or (no stream) one POST /raft in flight with
   * later messages batched behind it. On failure the messages are dropped (raft retries) and
   * `onUnreachable(to)` is called.
   */
  send(msgs: readonly Message[]): void;
  /** Send a MsgSnap followed by the image bytes; `onSnapshotStatus(to, ok)` when done. */
  sendSnapshot(m: Message, image: () => AsyncIterable<Uint8Array>): void;
  /**
   * Milliseconds since the peer last answered (undefined = never), 0 while a message stream to it
   * is open: "started"/"active" members.
   */
  activeSince(id: bigint): number | undefined;
  /**
   * How long (ms) the current message stream to the peer has been open; undefined while none
   * is: etcd's ActiveSince, which the strict reconfiguration check wants 5 s old.
   */
  connectedFor(id: bigint): number | undefined;
  /** Forward a lease keepalive / TTL query to the leader's peer URLs. */
  leaseRenew(leader: bigint, id: bigint): Promise<number>;
  leaseRemaining(leader: bigint, id: bigint): Promise<number>;
  /**
   * Forward a MemberPromote to the leader's peer URLs. The leader's refusals come back as etcd's
   * errors (member not found, not a learner, not in sync, or any other EtcdError); a leader that
   * cannot be reached or answers garbage gives PeerRequestError.
   */
  promoteMember(leader: bigint, id: bigint): Promise<PeerMember[]>;
  /** Ask remote peer URLs (not yet members) for their member list and raft status, for bootstrap. */
  fetchMembers(urls: readonly string[]): Promise<{ clusterId: bigint; members: PeerMember[]; status?: { commit: number } } | undefined>;
  close(): Promise<void>;
  /** Counters of the sender to a peer, for metrics and tests (undefined = not a peer). */
  peerStats?(id: bigint): PeerStats | undefined;
  /** The listen peer URLs as bound (a port 0 in the options is replaced by the chosen port). */
  readonly urls: readonly URL[];
}

export interface PeerStats {
  /** A message stream to the peer is open now. */
  readonly streaming: boolean;
  /** Message streams established so far. */
  readonly streamsOpened: number;
  /** socket.write calls on message streams (each carries every message queued at the time). */
  readonly streamWrites: number;
  /** POST /raft requests sent. */
  readonly posts: number;
  /** Messages dropped because the queue was full or the peer had no URL. */
  readonly dropped: number;
}

/** Tuning knobs; the defaults suit production, tests shorten them. */
export interface PeerTransportLimits {
  /** Messages queued per peer before the oldest are dropped (raft recovers). Default 4096. */
  readonly maxQueue: number;
  /** Bytes of messages one POST /raft carries at most (always at least one message). Default 4 MiB. */
  readonly maxBatchBytes: number;
  /** Largest POST /raft body accepted. Default: a full batch plus one largest message (peerLimitsFor). */
  readonly maxReceiveBytes: number;
  /** Deadline of one POST /raft or lease request. Default 5000 ms. */
  readonly requestTimeoutMs: number;
  /** A snapshot upload that moves no bytes for this long is aborted. Default 5000 ms. */
  readonly snapshotIdleMs: number;
  /** Deadline of each bootstrap probe in fetchMembers. Default 1000 ms. */
  readonly probeTimeoutMs: number;
  /** Backoff after a failed batch: doubles from min to max, reset by a success. Default 100..1000 ms. */
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  /**
   * Largest message accepted (a stream frame, a MsgSnap ahead of its image); a longer one closes
   * the stream or is refused. Default: the largest message raft sends (peerLimitsFor).
   */
  readonly maxFrameBytes: number;
}

export interface PeerTransportOptions {
  readonly clusterId: () => bigint;
  readonly memberId: bigint;
  readonly listenUrls: readonly URL[];
  readonly handler: PeerHandler;
  readonly onUnreachable: (id: bigint) => void;
  readonly onSnapshotStatus: (id: bigint, ok: boolean) => void;
  /** A peer told us we were removed (410): the server stops. */
  readonly onRemoved: () => void;
  readonly logger: {
    info(m: string, f?: Record<string, unknown>): void;
    warn(m: string, f?: Record<string, unknown>): void;
    /** Used for a cluster ID mismatch when present; warn otherwise. */
    error?(m: string, f?: Record<string, unknown>): void;
  };
  /**
   * Peer TLS (src/tls): serves the https listen URLs and dials https peers with the same
   * certificate, both re-read when the files change.
   */
  readonly tls?: Pick<Tls, "server" | "dial">;
  /** Directory for received snapshot images. */
  readonly tmpDir: string;
  /** Monotonic milliseconds for activeSince (default performance.now). */
  readonly now?: () => number;
  readonly limits?: Partial<PeerTransportLimits>;
  /**
   * Raft messages travel on long-lived streams (GET /raft/stream upgraded) when the peer accepts
   * them, POST /raft otherwise. false: neither dial nor accept streams (as a member that predates
   * them). Default true.
   */
  readonly streams?: boolean;
  /** A full garbage collection (src/runtime), asked for every 16 MiB of a snapshot image sent or received (collectEvery). */
  readonly collectGarbage?: () => void;
}
