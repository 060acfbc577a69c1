// Counters behind /v2/stats/self and /v2/stats/leader: append requests sent and received, and
// per follower the heartbeat round trip (latency in ms) with success and failure counts. The
// raft loop feeds it the messages it sends and receives.
import { type Message, MessageType } from "../raft/message.ts";

export interface FollowerStats {
  latency: { current: number; average: number; standardDeviation: number; minimum: number; maximum: number };
  counts: { fail: number; success: number };
}

interface Follower {
  stats: FollowerStats;
  /** Sum of squared latencies (for the deviation). */
  sumSq: number;
  /** When the last unanswered heartbeat went out (performance.now ms). */
  heartbeatAt?: number;
}

export class RaftStats {
  recvAppendRequestCnt = 0;
  sendAppendRequestCnt = 0;
  private readonly followers = new Map<bigint, Follower>();
  /** Told of each heartbeat sent and each heartbeat round trip (ms): /metrics. */
  onHeartbeatSent?: (to: bigint) => void;
  onRoundTrip?: (to: bigint, ms: number) => void;

  constructor(private readonly now: () => number = () => performance.now()) {}

  sent(msgs: readonly Message[]): void {
    for (const m of msgs) {
      if (m.type === MessageType.MsgApp) this.sendAppendRequestCnt++;
      else if (m.type === MessageType.MsgHeartbeat) {
        this.onHeartbeatSent?.(m.to);
        const f = this.follower(m.to);
        f.heartbeatAt ??= this.now();
      }
    }
  }

  received(msgs: readonly Message[]): void {
    for (const m of msgs) {
      if (m.type === MessageType.MsgApp) this.recvAppendRequestCnt++;
      else if (m.type === MessageType.MsgHeartbeatResp) {
        const f = this.followers.get(m.from);
        if (f?.heartbeatAt === undefined) continue;
        const ms = this.now() - f.heartbeatAt;
        this.succeeded(f, ms);
        this.onRoundTrip?.(m.from, ms);
        f.heartbeatAt = undefined;
      }
    }
  }

  /** A message to `id` could not be delivered. */
  unreachable(id: bigint): void {
    const f = this.follower(id);
    f.stats.counts.fail++;
    f.heartbeatAt = undefined;
  }

  /** The followers of this leader (only those named are reported). */
  followerStats(ids: readonly bigint[]): Map<bigint, FollowerStats> {
    const out = new Map<bigint, FollowerStats>();
    for (const id of ids) out.set(id, this.follower(id).stats);
    return out;
  }

  private follower(id: bigint): Follower {
    let f = this.followers.get(id);
    if (f === undefined) {
      f = {
        stats: { latency: { current: 0, average: 0, standardDeviation: 0, minimum: 0, maximum: 0 }, counts: { fail: 0, success: 0 } },
        sumSq: 0,
      };
      this.followers.set(id, f);
    }
    return f;
  }

  private succeeded(f: Follower, ms: number): void {
    const l = f.stats.latency;
    const c = f.stats.counts;
    c.success++;
    l.current = ms;
    if (c.success === 1) {
      l.minimum = ms;
      l.maximum = ms;
    } else {
      l.minimum = Math.min(l.minimum, ms);
      l.maximum = Math.max(l.maximum, ms);
    }
    l.average += (ms - l.average) / c.success;
    f.sumSq += ms * ms;
    l.standardDeviation = Math.sqrt(Math.max(0, f.sumSq / c.success - l.average * l.average));
  }
}
