// The simulated peer network: each member's PeerTransport (src/transport/types.ts). Messages
// travel through the binary codec with a delay, may be dropped, duplicated or reordered, never
// cross a partition, and never reach a member that is down. Snapshot images are read from the
// sender's state machine, written to a file in the receiver's data dir and handed to its real
// install path; lease forwarding and promote calls reach the leader's handler the same way.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeMessage, encodeMessage } from "../../../src/raft/codec.ts";
import type { Message } from "../../../src/raft/message.ts";
import { PeerRequestError } from "../../../src/transport/errors.ts";
import type { PeerHandler, PeerTransport } from "../../../src/transport/types.ts";
import { chance, intn, type Rng } from "../prng.ts";
import type { Scheduler } from "./scheduler.ts";

export interface NetNode {
  readonly id: bigint;
  /** The running incarnation's handler, or undefined while the member is down. */
  handler: PeerHandler | undefined;
  readonly dir: string;
  /** Reports of the running incarnation (transport callbacks into its raft loop). */
  onUnreachable?: (to: bigint) => void;
  onSnapshotStatus?: (to: bigint, ok: boolean) => void;
}

export interface NetFaults {
  drop: number;
  dup: number;
  maxDelayMs: number;
}

export class SimNet {
  readonly nodes = new Map<bigint, NetNode>();
  /** Member → partition group; undefined = fully connected. */
  groups: Map<bigint, number> | undefined;
  private seq = 0;
  stats = { sent: 0, dropped: 0, snapshots: 0 };

  constructor(
    private readonly sched: Scheduler,
    private readonly rng: Rng,
    readonly faults: NetFaults,
  ) {}

  reachable(from: bigint, to: bigint): boolean {
    const t = this.nodes.get(to);
    if (t?.handler === undefined || this.nodes.get(from)?.handler === undefined) return false;
    return this.groups === undefined || this.groups.get(from) === this.groups.get(to);
  }

  private delay(): number {
    return 1 + intn(this.rng, this.faults.maxDelayMs);
  }

  /** The transport of member `self`'s running incarnation (`alive` is false once it crashed). */
  transport(self: bigint, alive: () => boolean): PeerTransport {
    const net = this;
    const sched = this.sched;
    const later = (fn: () => void) => sched.setTimeout(net, fn, net.delay());
    const call = <T>(leader: bigint, fn: (h: PeerHandler) => Promise<T>): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        later(() => {
          const h = net.nodes.get(leader)?.handler;
          if (!alive() || h === undefined || !net.reachable(self, leader)) {
            reject(new PeerRequestError(`member ${leader.toString(16)} unreachable`));
            return;
          }
          fn(h).then(
            (v) => later(() => (alive() && net.reachable(leader, self) ? resolve(v) : reject(new PeerRequestError("answer lost")))),
            (e: unknown) => later(() => reject(e)),
          );
        });
      });
    const t: PeerTransport = {
      addPeer() {},
      updatePeer() {},
      removePeer() {},
      send(msgs: readonly Message[]) {
        if (!alive()) return;
        for (const m of msgs) {
          net.stats.sent++;
          if (!net.reachable(self, m.to) || chance(net.rng, net.faults.drop)) {
            net.stats.dropped++;
            // The real transport reports a lost stream as unreachable now and then.
            if (chance(net.rng, 0.1)) net.nodes.get(self)?.onUnreachable?.(m.to);
            continue;
          }
          const bytes = encodeMessage(m);
          const copies = chance(net.rng, net.faults.dup) ? 2 : 1;
          for (let i = 0; i < copies; i++) {
            later(() => {
              const h = net.nodes.get(m.to)?.handler;
              if (h !== undefined && net.reachable(self, m.to)) h.receive([decodeMessage(bytes)]);
            });
          }
        }
      },
      sendSnapshot(m: Message, image: () => AsyncIterable<Uint8Array>) {
        const report = (ok: boolean) => {
          if (alive()) net.nodes.get(self)?.onSnapshotStatus?.(m.to, ok);
        };
        void (async () => {
          const chunks: Uint8Array[] = [];
          try {
            for await (const c of image()) chunks.push(c);
          } catch {
            report(false);
            return;
          }
          later(() => {
            const target = net.nodes.get(m.to);
            if (!alive() || target?.handler === undefined || !net.reachable(self, m.to)) {
              report(false);
              return;
            }
            const path = join(target.dir, `snap-in-${m.to}-${++net.seq}.tmp`);
            writeFileSync(path, Buffer.concat(chunks));
            net.stats.snapshots++;
            target.handler.receiveSnapshot(decodeMessage(encodeMessage(m)), path).then(
              () => later(() => report(true)),
              () => later(() => report(false)),
            );
          });
        })();
      },
      activeSince: (id) => (net.reachable(self, id) ? 0 : undefined),
      connectedFor: (id) => (net.reachable(self, id) ? 60_000 : undefined),
      leaseRenew: (leader, id) => call(leader, (h) => h.leaseRenew(id)),
      leaseRemaining: (leader, id) => call(leader, (h) => h.leaseRemaining(id)),
      promoteMember: (leader, id) => call(leader, (h) => h.promoteMember(id)),
      fetchMembers: async () => undefined,
      urls: [],
      close: async () => {},
    };
    return t;
  }
}
