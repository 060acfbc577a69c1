// A multi-member cluster of real processes for either target (etcd or our binary), started
// with identical flags: static bootstrap through --initial-cluster, a unique cluster token,
// fast Raft timing. Members can be SIGKILLed, SIGSTOPped, restarted and added at run time.
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Ctl, errorLine } from "./etcdctl.ts";
import { Gateway, prefixEnd, type Json } from "./gateway.ts";
import { LineProcess } from "./line-process.ts";
import { freePorts } from "./ports.ts";
import { memberBinary } from "./target.ts";
import { makeTempDir, removeDir } from "./temp-dir.ts";
import { delay, pollUntil } from "./wait.ts";

/** Raft timing used by every cluster test, the same for both targets. */
export const FAST_RAFT_FLAGS = ["--heartbeat-interval", "50", "--election-timeout", "500"];
export const ELECTION_TIMEOUT_MS = 500;

/** Where a member listens; the default is loopback, a network namespace may give others. */
export interface MemberAddress {
  /** Host (IP) the client URL uses. */
  clientHost: string;
  /** Host (IP) the peer URL uses. */
  peerHost: string;
  /** Command prefix to run the member inside, e.g. ["ip", "netns", "exec", "ns1"]. */
  wrap?: string[];
}

export interface ClusterOptions {
  size: number;
  /** --initial-cluster-token; default a fresh random one, unique per cluster. */
  token?: string;
  /** Flags appended for every member (after FAST_RAFT_FLAGS). */
  extraArgs?: string[];
  /** Member names are `${namePrefix}${i + 1}`. */
  namePrefix?: string;
  /** Per-member addresses (index i); default 127.0.0.1 for all. */
  addresses?: MemberAddress[];
  /** Bound on the wait for all members to report healthy. */
  healthTimeoutMs?: number;
  /** Member executable; default the current E2E_TARGET's binary. */
  bin?: string;
  /**
   * Runs once ports and data dirs are chosen and before any member starts, e.g. to restore a
   * snapshot into each data dir (which must then exist; the flags are the usual ones).
   */
  prepare?: (spec: PreparedCluster) => Promise<void>;
}

/** What a prepare hook learns about the cluster it prepares. */
export interface PreparedCluster {
  readonly token: string;
  readonly initialCluster: string;
  readonly members: readonly { readonly name: string; readonly dataDir: string; readonly peerURL: string }[];
}

interface MemberSpec {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  initialCluster: string;
  state: "new" | "existing";
  token: string;
  extraArgs: string[];
  address: MemberAddress;
  bin?: string;
}

/** One member of a Cluster: a process that can be started, killed and restarted on its data dir. */
export class ClusterMember {
  private proc: LineProcess | undefined;
  readonly ctl: Ctl;
  readonly gw: Gateway;

  constructor(private readonly spec: MemberSpec) {
    this.ctl = new Ctl(this.endpoint);
    this.gw = new Gateway(this.clientURL);
  }

  get name(): string {
    return this.spec.name;
  }
  get dataDir(): string {
    return this.spec.dataDir;
  }
  get endpoint(): string {
    return `${this.spec.address.clientHost}:${this.spec.clientPort}`;
  }
  get clientURL(): string {
    return `http://${this.endpoint}`;
  }
  get peerURL(): string {
    return `http://${this.spec.address.peerHost}:${this.spec.peerPort}`;
  }
  get running(): boolean {
    return this.proc !== undefined && !this.proc.hasExited;
  }
  get process(): LineProcess {
    if (!this.proc) throw new Error(`member ${this.name} not started`);
    return this.proc;
  }

  flags(): string[] {
    return [
      "--name",
      this.name,
      "--data-dir",
      this.dataDir,
      "--listen-client-urls",
      this.clientURL,
      "--advertise-client-urls",
      this.clientURL,
      "--listen-peer-urls",
      this.peerURL,
      "--initial-advertise-peer-urls",
      this.peerURL,
      "--initial-cluster",
      this.spec.initialCluster,
      "--initial-cluster-token",
      this.spec.token,
      "--initial-cluster-state",
      this.spec.state,
      ...FAST_RAFT_FLAGS,
      ...this.spec.extraArgs,
    ];
  }

  /** Starts the process without waiting (members of a new cluster must start together). */
  spawn(): void {
    if (this.running) throw new Error(`member ${this.name} already running`);
    const bin = this.spec.bin ?? memberBinary();
    if (!existsSync(bin)) throw new Error(`member binary ${bin} does not exist (build it with npm run build)`);
    const wrap = this.spec.address.wrap ?? [];
    const [cmd, ...args] = [...wrap, bin, ...this.flags()];
    this.proc = new LineProcess(cmd!, args, { maxLines: 3000 });
  }

  /** Polls GET /health until {"health":"true"} (a leader exists and a read went through Raft). */
  async waitHealthy(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    let last = "no answer yet";
    while (Date.now() < deadline) {
      if (this.proc?.hasExited) throw new Error(`member ${this.name} exited before becoming healthy\n${this.proc.describe()}`);
      try {
        const res = await fetch(`${this.clientURL}/health`, { signal: AbortSignal.timeout(2000) });
        const body = await res.text();
        last = `${res.status} ${body}`;
        if (res.status === 200 && (JSON.parse(body) as { health?: unknown }).health === "true") return;
      } catch (e) {
        last = String(e);
      }
      await delay(50);
    }
    throw new Error(`member ${this.name} not healthy after ${ms} ms (last: ${last})\n${this.logTail()}`);
  }

  async start(healthMs = 20_000): Promise<void> {
    this.spawn();
    await this.waitHealthy(healthMs);
  }

  /** SIGKILL: no chance to flush anything. */
  async kill(): Promise<void> {
    if (this.proc) await this.proc.kill();
  }

  /** SIGSTOP: the process is frozen, its sockets stay open but nothing answers. */
  pause(): void {
    this.process.signal("SIGSTOP");
  }

  resume(): void {
    this.process.signal("SIGCONT");
  }

  /** Member status through the gateway (leader, raft index, this member's ID). */
  async status(timeoutMs = 2000): Promise<MemberStatus> {
    const r = await this.gw.post("/v3/maintenance/status", {}, timeoutMs);
    if (r.status !== 200) throw new Error(`status of ${this.name}: ${r.status} ${r.text}`);
    const j = r.json as Json;
    return {
      id: BigInt(j.header.member_id),
      leader: BigInt(j.leader ?? 0),
      raftTerm: Number(j.raftTerm ?? 0),
      raftIndex: Number(j.raftIndex ?? 0),
      revision: Number(j.header.revision ?? 0),
      isLearner: j.isLearner === true,
    };
  }

  /** Serializable range over a prefix on this member alone (no Raft round trip). */
  async localRange(prefix: string, timeoutMs = 5000): Promise<{ revision: number; kvs: Map<string, StoredValue> }> {
    const key = Buffer.from(prefix).toString("base64");
    const end = prefixEnd(prefix);
    const r = await this.gw.post("/v3/kv/range", { key, range_end: end, serializable: true }, timeoutMs);
    if (r.status !== 200) throw new Error(`serializable range on ${this.name}: ${r.status} ${r.text}`);
    const kvs = new Map<string, StoredValue>();
    for (const kv of (r.json.kvs ?? []) as Json[]) {
      kvs.set(Buffer.from(kv.key, "base64").toString("utf8"), {
        value: Buffer.from(kv.value ?? "", "base64").toString("utf8"),
        modRevision: Number(kv.mod_revision),
      });
    }
    return { revision: Number(r.json.header.revision), kvs };
  }

  /** Sum of a Prometheus metric's samples (all label sets) from GET /metrics; 0 if absent. */
  async metric(name: string): Promise<number> {
    const res = await fetch(`${this.clientURL}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    let sum = 0;
    for (const line of text.split("\n")) {
      if (line.startsWith("#")) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (m && m[1] === name) sum += Number(m[3]);
    }
    return sum;
  }

  logTail(n = 40): string {
    return this.proc ? `[${this.name}] ${this.proc.describe().split("\n").slice(-n).join("\n")}` : `[${this.name}] (not started)`;
  }
}

export interface StoredValue {
  value: string;
  modRevision: number;
}

export interface MemberStatus {
  id: bigint;
  leader: bigint;
  raftTerm: number;
  raftIndex: number;
  revision: number;
  isLearner: boolean;
}

/** etcd's member ID: first 8 bytes (big-endian) of SHA1(sorted peer URLs + token [+ unix seconds]). */
export function computeMemberId(peerURLs: string[], token: string, unixSeconds?: number): bigint {
  const h = createHash("sha1");
  for (const u of [...peerURLs].sort()) h.update(u);
  h.update(token);
  if (unixSeconds !== undefined) h.update(String(unixSeconds));
  return h.digest().readBigUInt64BE(0);
}

/** etcd's cluster ID: first 8 bytes of SHA1 over the sorted member IDs as 8-byte big-endian. */
export function computeClusterId(memberIds: bigint[]): bigint {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const b = Buffer.alloc(8 * sorted.length);
  sorted.forEach((id, i) => b.writeBigUInt64BE(id, 8 * i));
  return createHash("sha1").update(b).digest().readBigUInt64BE(0);
}

export const hexId = (id: bigint): string => id.toString(16);

/** One line of `etcdctl member list` (simple format: ID, status, name, peer URLs, client URLs, learner). */
export interface ListedMember {
  id: bigint;
  started: boolean;
  name: string;
  peerURLs: string;
  clientURLs: string;
  isLearner: boolean;
}

/** Parses etcdctl's simple `member list` output; hex IDs there are exact (JSON numbers are not). */
export function parseMemberList(out: string): ListedMember[] {
  return out
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const f = l.split(", ");
      if (f.length !== 6) throw new Error(`unexpected member list line: ${l}`);
      return {
        id: BigInt(`0x${f[0]}`),
        started: f[1] === "started",
        name: f[2]!,
        peerURLs: f[3]!,
        clientURLs: f[4]!,
        isLearner: f[5] === "true",
      };
    });
}

export class Cluster {
  readonly members: ClusterMember[] = [];
  private readonly root: string;

  private constructor(
    readonly token: string,
    private readonly opts: ClusterOptions,
  ) {
    this.root = makeTempDir("e2e-cluster");
  }

  /** Allocates ports, starts every member at once and waits until all report healthy. */
  static async start(opts: ClusterOptions): Promise<Cluster> {
    const token = opts.token ?? `e2e-${randomBytes(6).toString("hex")}`;
    const c = new Cluster(token, opts);
    try {
      const ports = await freePorts(2 * opts.size);
      const prefix = opts.namePrefix ?? "m";
      const addr = (i: number): MemberAddress => opts.addresses?.[i] ?? { clientHost: "127.0.0.1", peerHost: "127.0.0.1" };
      const names = Array.from({ length: opts.size }, (_, i) => `${prefix}${i + 1}`);
      const initialCluster = names.map((n, i) => `${n}=http://${addr(i).peerHost}:${ports[2 * i + 1]}`).join(",");
      for (let i = 0; i < opts.size; i++) {
        c.members.push(
          new ClusterMember({
            name: names[i]!,
            clientPort: ports[2 * i]!,
            peerPort: ports[2 * i + 1]!,
            dataDir: join(c.root, `${names[i]}.data`),
            initialCluster,
            state: "new",
            token,
            extraArgs: opts.extraArgs ?? [],
            address: addr(i),
            bin: opts.bin,
          }),
        );
      }
      await opts.prepare?.({ token, initialCluster, members: c.members.map((m) => ({ name: m.name, dataDir: m.dataDir, peerURL: m.peerURL })) });
      for (const m of c.members) m.spawn();
      await Promise.all(c.members.map((m) => m.waitHealthy(opts.healthTimeoutMs ?? 30_000)));
    } catch (e) {
      await c.cleanup();
      throw e;
    }
    return c;
  }

  member(name: string): ClusterMember {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no member ${name}`);
    return m;
  }

  running(): ClusterMember[] {
    return this.members.filter((m) => m.running);
  }

  /** Comma-separated endpoints for etcdctl --endpoints (default: all running members). */
  endpoints(ms: ClusterMember[] = this.running()): string {
    return ms.map((m) => m.endpoint).join(",");
  }

  /** etcdctl against several endpoints (member list, endpoint status/hashkv, move-leader). */
  ctl(ms: ClusterMember[] = this.running()): Ctl {
    return new Ctl(this.endpoints(ms));
  }

  /**
   * Waits until every given member answers Status naming the same leader, which is one of
   * them; returns that leader.
   */
  async waitLeader(ms: ClusterMember[] = this.running(), timeoutMs = 10_000): Promise<ClusterMember> {
    let last = "";
    return pollUntil(
      async () => {
        try {
          const st = await Promise.all(ms.map((m) => m.status(1000)));
          const leader = st[0]!.leader;
          last = st.map((s, i) => `${ms[i]!.name}: leader=${hexId(s.leader)}`).join(", ");
          if (leader === 0n || !st.every((s) => s.leader === leader)) return undefined;
          const idx = st.findIndex((s) => s.id === leader);
          return idx >= 0 ? ms[idx] : undefined;
        } catch (e) {
          last = String(e);
          return undefined;
        }
      },
      timeoutMs,
      `one agreed leader among ${ms.map((m) => m.name).join(",")} (last: ${last})`,
    );
  }

  async memberList(ms: ClusterMember[] = this.running()): Promise<ListedMember[]> {
    return parseMemberList(await this.ctl(ms).ok("member", "list"));
  }

  /** `endpoint hashkv` on each member; returns hash and revision per member name. */
  async hashKV(ms: ClusterMember[] = this.running(), rev?: number): Promise<Map<string, number>> {
    const args = ["endpoint", "hashkv", "-w", "json"];
    if (rev !== undefined) args.push("--rev", String(rev));
    const out = await this.ctl(ms).ok(...args);
    const parsed = JSON.parse(out) as { Endpoint: string; HashKV: { hash?: number } }[];
    const byEndpoint = new Map(ms.map((m) => [m.endpoint, m.name]));
    const res = new Map<string, number>();
    for (const e of parsed) res.set(byEndpoint.get(e.Endpoint) ?? e.Endpoint, e.HashKV.hash ?? 0);
    return res;
  }

  /**
   * Waits until the given members have applied the same revision (serializable reads) and
   * their hashkv at that revision agree. Returns the common revision and hash.
   */
  async waitConverged(ms: ClusterMember[] = this.running(), timeoutMs = 20_000): Promise<{ revision: number; hash: number }> {
    let last = "";
    return pollUntil(
      async () => {
        try {
          const revs = await Promise.all(ms.map((m) => m.status(1000).then((s) => s.revision)));
          last = `revisions ${ms.map((m, i) => `${m.name}=${revs[i]}`).join(" ")}`;
          if (!revs.every((r) => r === revs[0])) return undefined;
          const hashes = await this.hashKV(ms, revs[0]);
          const values = [...hashes.values()];
          last += `; hashes ${[...hashes].map(([n, h]) => `${n}=${h}`).join(" ")}`;
          if (values.length !== ms.length || !values.every((h) => h === values[0])) return undefined;
          return { revision: revs[0]!, hash: values[0]! };
        } catch (e) {
          last = String(e);
          return undefined;
        }
      },
      timeoutMs,
      `members ${ms.map((m) => m.name).join(",")} converge (${last})`,
      100,
    );
  }

  /**
   * `member add` through etcdctl, then a ClusterMember configured from the
   * ETCD_INITIAL_CLUSTER line etcdctl printed, with --initial-cluster-state existing.
   * The process is not started.
   */
  async addMember(name: string, opts: { learner?: boolean; address?: MemberAddress } = {}): Promise<{ member: ClusterMember; id: bigint; output: string }> {
    const [clientPort, peerPort] = await freePorts(2);
    const address = opts.address ?? { clientHost: "127.0.0.1", peerHost: "127.0.0.1" };
    const peerURL = `http://${address.peerHost}:${peerPort}`;
    const args = ["member", "add", name, `--peer-urls=${peerURL}`];
    if (opts.learner) args.push("--learner");
    const output = await this.reconfigure(args);
    const id = /Member\s+([0-9a-f]+)\s+added/.exec(output)?.[1];
    const ic = /^ETCD_INITIAL_CLUSTER="([^"]*)"$/m.exec(output)?.[1];
    const state = /^ETCD_INITIAL_CLUSTER_STATE="([^"]*)"$/m.exec(output)?.[1];
    if (!id || !ic || state !== "existing") throw new Error(`unexpected member add output:\n${output}`);
    const member = new ClusterMember({
      name,
      clientPort: clientPort!,
      peerPort: peerPort!,
      dataDir: join(this.root, `${name}.data`),
      initialCluster: ic,
      state: "existing",
      token: this.token,
      extraArgs: this.opts.extraArgs ?? [],
      address,
      bin: this.opts.bin,
    });
    this.members.push(member);
    return { member, id: BigInt(`0x${id}`), output };
  }

  /**
   * Runs a membership command (member add/remove/promote) through etcdctl, waiting out
   * "etcdserver: unhealthy cluster": with --strict-reconfig-check (default) etcd refuses a
   * change until the leader has been connected to the members for 5 s (its HealthInterval).
   * A refused change is not applied, so asking again is safe. Returns stdout.
   */
  async reconfigure(args: string[], ms: ClusterMember[] = this.running(), timeoutMs = 15_000): Promise<string> {
    let last = "";
    return pollUntil(
      async () => {
        const r = await this.ctl(ms).run(...args);
        if (r.code === 0) return r.stdout;
        last = r.stderr;
        if (errorLine(r) === "Error: etcdserver: unhealthy cluster") return undefined;
        throw new Error(`etcdctl ${args.join(" ")} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      },
      timeoutMs,
      `etcdctl ${args.join(" ")} while the cluster reports unhealthy (${last})`,
      200,
    );
  }

  /** Kills every process (stopped ones included) and removes the data dirs. */
  async cleanup(): Promise<void> {
    await Promise.all(this.members.map((m) => m.kill()));
    removeDir(this.root);
  }

  logs(n = 30): string {
    return this.members.map((m) => m.logTail(n)).join("\n");
  }
}
