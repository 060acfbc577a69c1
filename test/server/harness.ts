// In-process clusters: real RaftLog + StateMachine per member in temp dirs, an in-memory peer
// transport, a fake clock and ticks driven by the test (no timers race the assertions).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { PutRequestSchema, RangeRequestSchema } from "../../src/gen/rpc_pb.ts";
import type { Message } from "../../src/raft/message.ts";
import { assembleMember, type AssembledMember } from "../../src/server/assemble.ts";
import { planBootstrap, type BootstrapPlan } from "../../src/server/bootstrap.ts";
import type { Logger } from "../../src/server/logger.ts";
import type { Server } from "../../src/server/server.ts";
import { PeerRequestError } from "../../src/transport/errors.ts";
import type { PeerHandler, PeerMember, PeerTransport } from "../../src/transport/types.ts";
import { mulberry32 } from "../helpers/rng.ts";

export const HEARTBEAT_MS = 100;
export const ELECTION_MS = 1000;
export const TOKEN = "test-token";

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** The network: handlers by member ID, links that can be cut. */
export class FakeNet {
  readonly handlers = new Map<bigint, PeerHandler>();
  readonly urls = new Map<string, bigint>();
  readonly down = new Set<bigint>();
  /** What connectedFor reports for a reachable peer. */
  connectedForMs = 60_000;
  private pending = 0;
  private idle: (() => void)[] = [];

  reachable(from: bigint, to: bigint): boolean {
    return this.handlers.has(to) && !this.down.has(from) && !this.down.has(to);
  }

  /** Delivery is asynchronous, like a socket: the sender's Ready finishes first. */
  deliver(fn: () => void | Promise<void>): void {
    this.pending++;
    setImmediate(() => {
      void Promise.resolve()
        .then(fn)
        .catch(() => {})
        .finally(() => {
          this.pending--;
          if (this.pending === 0) for (const r of this.idle.splice(0)) r();
        });
    });
  }

  quiet(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  transport(self: bigint, dir: string, hooks: { unreachable(id: bigint): void; snapshot(id: bigint, ok: boolean): void }): PeerTransport {
    const peers = new Map<bigint, readonly string[]>();
    let seq = 0;
    const net = this;
    return {
      addPeer: (id, urls) => void peers.set(id, urls),
      updatePeer: (id, urls) => void peers.set(id, urls),
      removePeer: (id) => void peers.delete(id),
      send(msgs: readonly Message[]) {
        for (const m of msgs) {
          if (!net.reachable(self, m.to)) {
            hooks.unreachable(m.to);
            continue;
          }
          net.deliver(() => {
            if (net.reachable(self, m.to)) net.handlers.get(m.to)!.receive([m]);
          });
        }
      },
      sendSnapshot(m: Message, image: () => AsyncIterable<Uint8Array>) {
        net.deliver(async () => {
          if (!net.reachable(self, m.to)) return hooks.snapshot(m.to, false);
          const chunks: Uint8Array[] = [];
          for await (const c of image()) chunks.push(c);
          const path = join(dir, `snap-in-${m.to}-${++seq}`);
          writeFileSync(path, Buffer.concat(chunks));
          try {
            await net.handlers.get(m.to)!.receiveSnapshot(m, path);
            hooks.snapshot(m.to, true);
          } catch {
            hooks.snapshot(m.to, false);
          }
        });
      },
      activeSince: (id) => (net.reachable(self, id) ? 0 : undefined),
      // Links of the fake network count as connected for as long as etcd's health interval.
      connectedFor: (id) => (net.reachable(self, id) ? net.connectedForMs : undefined),
      leaseRenew: async (leader, id) => {
        if (!net.reachable(self, leader)) throw new Error("unreachable");
        return net.handlers.get(leader)!.leaseRenew(id);
      },
      leaseRemaining: async (leader, id) => {
        if (!net.reachable(self, leader)) throw new Error("unreachable");
        return net.handlers.get(leader)!.leaseRemaining(id);
      },
      promoteMember: async (leader, id) => {
        if (!net.reachable(self, leader)) throw new PeerRequestError("unreachable");
        return net.handlers.get(leader)!.promoteMember(id);
      },
      fetchMembers: async (urls) => {
        for (const u of urls) {
          const id = net.urls.get(u);
          if (id === undefined || !net.reachable(self, id)) continue;
          const h = net.handlers.get(id)!;
          const members: PeerMember[] = h.members();
          if (members.length === 0) continue;
          return { clusterId: (h as unknown as { clusterId: bigint }).clusterId, members, status: { commit: h.raftStatus().commit } };
        }
        return undefined;
      },
      urls: [],
      close: async () => {},
    };
  }
}

interface FakeInterval {
  fn: () => void;
  ms: number;
  next: number;
  live: boolean;
}

export interface TestMember {
  name: string;
  peerURL: string;
  dataDir: string;
  m?: AssembledMember;
  timers: FakeInterval[];
  readonly server: Server;
  id: bigint;
}

export class TestCluster {
  readonly net = new FakeNet();
  readonly root = mkdtempSync(join(tmpdir(), "conclave-cluster-"));
  now = 1_000_000;
  readonly members: TestMember[] = [];
  private seed = 1;

  constructor(readonly opts: { snapshotCount?: number; catchUpEntries?: number; strictReconfigCheck?: boolean; preVote?: boolean } = {}) {}

  static async start(size: number, opts: TestCluster["opts"] = {}): Promise<TestCluster> {
    const c = new TestCluster(opts);
    const initial = new Map<string, string[]>();
    for (let i = 1; i <= size; i++) initial.set(`m${i}`, [`http://10.0.0.${i}:2380`]);
    const started = [];
    for (const [name, urls] of initial) {
      const plan = await planBootstrap({
        name,
        initialCluster: initial,
        initialClusterState: "new",
        token: TOKEN,
        fetchMembers: async () => undefined,
      });
      started.push(c.open(name, urls[0]!, join(c.root, name), plan));
    }
    await Promise.all(started);
    await c.waitLeader();
    return c;
  }

  /** Opens (or reopens) a member's server on its data dir. */
  async open(name: string, peerURL: string, dataDir: string, plan: BootstrapPlan): Promise<TestMember> {
    let tm = this.members.find((x) => x.name === name);
    if (!tm) {
      const entry: TestMember = {
        name,
        peerURL,
        dataDir,
        timers: [],
        id: plan.identity.memberId,
        get server(): Server {
          if (!entry.m) throw new Error(`${name} is not running`);
          return entry.m.server;
        },
      };
      tm = entry;
      this.members.push(tm);
    }
    const id = plan.identity.memberId;
    this.net.urls.set(peerURL, id);
    let member!: AssembledMember;
    const transport = this.net.transport(id, dataDir, {
      unreachable: (to) => member?.server.loop.reportUnreachable(to),
      snapshot: (to, ok) => member?.server.loop.reportSnapshot(to, ok),
    });
    member = await assembleMember({
      dataDir,
      name,
      clientURLs: [`http://client-${name}:2379`],
      plan,
      transport,
      clusterToken: TOKEN,
      logger: quiet,
      clock: () => this.now,
      rng: mulberry32(this.seed++),
      setInterval: (fn, ms) => {
        const t: FakeInterval = { fn, ms, next: this.now + ms, live: true };
        tm!.timers.push(t);
        return t;
      },
      clearInterval: (h) => {
        (h as FakeInterval).live = false;
      },
      autoTick: false,
      heartbeatMs: HEARTBEAT_MS,
      electionMs: ELECTION_MS,
      initialElectionTickAdvance: false,
      preVote: this.opts.preVote ?? true,
      snapshotCount: this.opts.snapshotCount ?? 10_000,
      catchUpEntries: this.opts.catchUpEntries,
      strictReconfigCheck: this.opts.strictReconfigCheck ?? true,
      maxRequestBytes: 1.5 * 1024 * 1024,
      maxTxnOps: 128,
      quotaBackendBytes: 2 * 1024 ** 3,
      progressNotifyIntervalMs: 0,
      unsafeNoFsync: true,
    });
    this.net.handlers.set(id, member.server);
    tm.m = member;
    tm.timers = tm.timers.filter((t) => t.live);
    tm.id = id;
    await member.server.start();
    return tm;
  }

  running(): TestMember[] {
    return this.members.filter((m) => m.m !== undefined);
  }

  /** Lets messages flow and loops finish, without time passing. */
  async settle(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      await this.net.quiet();
      await Promise.all(this.running().map((m) => m.server.drain()));
      await new Promise((r) => setImmediate(r));
      await this.net.quiet();
      if (this.running().every((m) => !m.server.loop.node.hasReady())) return;
    }
  }

  /** Advances the clock by n heartbeats, ticking every running member each time. */
  async tick(n = 1): Promise<void> {
    for (let i = 0; i < n; i++) {
      this.now += HEARTBEAT_MS;
      for (const m of this.running()) {
        if (this.net.down.has(m.id)) continue;
        m.server.tick();
        for (const t of m.timers.slice()) {
          if (!t.live || t.next > this.now) continue;
          t.next = this.now + t.ms;
          t.fn();
        }
      }
      await this.settle();
    }
  }

  /** Ticks until `pred` holds (at most `max` heartbeats). */
  async until(pred: () => boolean, max = 200): Promise<void> {
    for (let i = 0; i < max && !pred(); i++) await this.tick();
    if (!pred()) throw new Error("condition not reached");
  }

  leader(): TestMember | undefined {
    const up = this.running().filter((m) => !this.net.down.has(m.id));
    return up.find((m) => m.server.loop.isLeader());
  }

  async waitLeader(): Promise<TestMember> {
    await this.until(() => {
      const l = this.leader();
      return l !== undefined && this.running().filter((m) => !this.net.down.has(m.id)).every((m) => m.server.loop.leader() === l.id);
    });
    return this.leader()!;
  }

  followers(): TestMember[] {
    const l = this.leader();
    return this.running().filter((m) => m !== l && !this.net.down.has(m.id));
  }

  /** Runs a request while time advances, so timeouts and retries can happen. */
  async run<T>(p: Promise<T>, maxTicks = 200): Promise<T> {
    let done = false;
    let out: { ok: true; v: T } | { ok: false; e: unknown } | undefined;
    p.then(
      (v) => ((out = { ok: true, v }), (done = true)),
      (e) => ((out = { ok: false, e }), (done = true)),
    );
    await this.settle();
    for (let i = 0; i < maxTicks && !done; i++) await this.tick();
    if (!out) throw new Error("request did not finish");
    if (!out.ok) throw out.e;
    return out.v;
  }

  put(m: TestMember, key: string, value: string) {
    return this.run(m.server.put(create(PutRequestSchema, { key: enc(key), value: enc(value) }), {}));
  }

  async get(m: TestMember, key: string, serializable = false): Promise<string | undefined> {
    const r = await this.run(m.server.range(create(RangeRequestSchema, { key: enc(key), serializable }), {}));
    return r.kvs[0] ? dec(r.kvs[0].value) : undefined;
  }

  /** Stops a member as a crash would leave it: its data dir stays. */
  async kill(m: TestMember): Promise<void> {
    this.net.handlers.delete(m.id);
    const a = m.m!;
    m.m = undefined;
    for (const t of m.timers) t.live = false;
    m.timers = [];
    await a.close();
  }

  async cleanup(): Promise<void> {
    for (const m of this.running()) await m.m!.close().catch(() => {});
    rmSync(this.root, { recursive: true, force: true });
  }
}
