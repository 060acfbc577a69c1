// The Lease service (etcdserverpb.Lease) of the member, and the leader's lease duties. Grants
// and revocations go through the log; renewals happen on the leader outside the log, as in
// etcd, and followers forward them over the peer port; the leader revokes expired leases and
// checkpoints remaining TTLs through the log so that a new leader restarts each deadline where
// it was.
import type { ServerMetrics } from "./server-metrics.ts";
import { create } from "@bufbuild/protobuf";
import {
  type LeaseGrantRequest,
  type LeaseGrantResponse,
  type LeaseKeepAliveResponse,
  LeaseKeepAliveResponseSchema,
  type LeaseLeasesResponse,
  type LeaseRevokeRequest,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveRequest,
  type LeaseTimeToLiveResponse,
  LeaseTimeToLiveRequestSchema,
  type ResponseHeader,
} from "../gen/rpc_pb.ts";
import { Errors } from "../rpctypes/index.ts";
import type { Logger } from "./logger.ts";
import type { PeerTransport } from "../transport/types.ts";
import type { RaftLoop } from "./raft-loop.ts";
import type { RequestInit } from "./request-codec.ts";
import type { StateMachine } from "./state-machine-types.ts";
import type { RequestContext } from "./types.ts";

export interface LeaseOpsDeps {
  memberId: bigint;
  loop: RaftLoop;
  transport: Pick<PeerTransport, "leaseRenew" | "leaseRemaining">;
  logger: Logger;
  /** Monotonic ms: lease deadlines. */
  now(): number;
  stopped(): boolean;
  nextLeaseId(): bigint;
  header(): ResponseHeader;
  propose<T>(init: RequestInit, ctx?: RequestContext): Promise<T>;
  /** Throws etcd's "database space exceeded" when the request would add data past the quota. */
  checkQuota(init: RequestInit): void;
  /** Renewals and expiries counted (/metrics). */
  metrics: Pick<ServerMetrics, "leaseRenewed" | "leaseExpired">;
}

export class LeaseOps {
  private expiring = false;
  private checkpointing = false;

  constructor(private readonly d: LeaseOpsDeps) {}

  private get sm(): StateMachine {
    return this.d.loop.sm;
  }

  async grant(req: LeaseGrantRequest, ctx: RequestContext): Promise<LeaseGrantResponse> {
    const ID = req.ID === 0n ? this.d.nextLeaseId() : req.ID;
    const init: RequestInit = { leaseGrant: { TTL: req.TTL, ID } };
    this.d.checkQuota(init);
    return this.d.propose<LeaseGrantResponse>(init, ctx);
  }

  revoke(req: LeaseRevokeRequest, ctx: RequestContext): Promise<LeaseRevokeResponse> {
    return this.d.propose<LeaseRevokeResponse>({ leaseRevoke: req }, ctx);
  }

  /** Renews on the leader (a follower's keepalive arrives here over the peer port). */
  async renew(id: bigint): Promise<number> {
    if (!this.d.loop.isLeader()) throw Errors.notLeader;
    await this.d.loop.linearizableRead();
    const checkpointed = this.sm.leaseCheckpointed(id);
    const ttl = this.sm.leaseRenew(id);
    if (ttl > 0) this.d.metrics.leaseRenewed.inc();
    if (ttl > 0 && checkpointed) {
      // A checkpoint holds an older remaining TTL: a leader elected now would restart the lease
      // from it, before the deadline this renewal promises. Clear it through the log before
      // answering (etcd's Renew does the same), so the next leader counts the full TTL.
      await this.d.propose({ leaseCheckpoint: { checkpoints: [{ ID: id, remainingTTL: 0n }] } });
    }
    return ttl;
  }

  /** The remaining TTL by the leader's deadlines (a follower asks over the peer port). */
  async remaining(id: bigint): Promise<number> {
    if (!this.d.loop.isLeader()) throw Errors.notLeader;
    return Number(this.sm.leaseTimeToLive(create(LeaseTimeToLiveRequestSchema, { ID: id })).TTL);
  }

  async keepAlive(id: bigint): Promise<LeaseKeepAliveResponse> {
    const lead = this.d.loop.leader();
    if (lead === 0n) throw Errors.noLeader;
    const ttl = lead === this.d.memberId ? await this.renew(id) : await this.d.transport.leaseRenew(lead, id);
    return create(LeaseKeepAliveResponseSchema, { header: this.d.header(), ID: id, TTL: BigInt(ttl) });
  }

  async timeToLive(req: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> {
    await this.d.loop.linearizableRead();
    const res = this.sm.leaseTimeToLive(req);
    const lead = this.d.loop.leader();
    if (res.TTL >= 0n && lead !== this.d.memberId && lead !== 0n) {
      // Only the leader's deadlines count; a follower asks it for the remaining TTL.
      const remaining = await this.d.transport.leaseRemaining(lead, req.ID);
      if (remaining < 0) return this.sm.leaseTimeToLive({ ...req, ID: 0n });
      res.TTL = BigInt(remaining);
    }
    return res;
  }

  async leases(): Promise<LeaseLeasesResponse> {
    await this.d.loop.linearizableRead();
    return this.sm.leaseLeases();
  }

  /** The leader revokes expired leases through the log, one batch of up to 1000 at a time. */
  expire(): void {
    if (this.expiring || this.d.stopped() || !this.d.loop.isLeader()) return;
    const ids = this.sm.expiredLeases(this.d.now(), 1000);
    if (ids.length === 0) return;
    this.expiring = true;
    this.d
      .propose({ leaseExpire: { IDs: ids } })
      .then(() => this.d.metrics.leaseExpired.inc(ids.length))
      .catch((err: unknown) => this.d.logger.warn("failed to revoke expired leases", { error: String(err) }))
      .finally(() => {
        this.expiring = false;
      });
  }

  /**
   * The leader writes every lease's remaining TTL into the log, so that a new leader restarts
   * each deadline where it was (etcd resets them to the full TTL on a leader change).
   */
  async checkpoint(): Promise<void> {
    if (this.checkpointing || this.d.stopped() || !this.d.loop.isLeader() || this.d.loop.members.size < 2) return;
    // Rounded up, as etcd does: a checkpoint must never shorten a lease.
    const checkpoints = this.sm.leaseCheckpoints(1000);
    if (checkpoints.length === 0) return;
    this.checkpointing = true;
    try {
      await this.d.propose({ leaseCheckpoint: { checkpoints } });
    } catch (err) {
      this.d.logger.warn("failed to checkpoint leases", { error: String(err) });
    } finally {
      this.checkpointing = false;
    }
  }
}
