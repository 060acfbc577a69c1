// The interpreter behind test/raft/testdata/*.txt: a cluster of RawNodes over MemoryStorage
// with an explicit message queue, driven one command at a time (like etcd's rafttest
// InteractionEnv). Everything is deterministic: rng() returns 0, so the randomized election
// timeout equals electionTick.

import {
  ConfChangeType, decodeConfChange, EntryType, hexId, MemoryStorage, ProposalDroppedError, RawNode,
  type ConfChange, type ConfState, type Logger, type Message,
} from "../../../src/raft/index.ts";
import type { CmdArg, TestCase } from "./datadriven.ts";
import { describeEntries, describeMessage, describeReady } from "./format.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const LEVELS = ["debug", "info", "warn", "none"] as const;
type Level = (typeof LEVELS)[number];

interface Node {
  readonly id: bigint;
  raw: RawNode;
  readonly storage: MemoryStorage;
  readonly opts: NodeOpts;
  /** The state machine: values of applied normal entries, in order. */
  values: string[];
  applied: number;
  confState: ConfState;
}

interface NodeOpts {
  checkQuorum: boolean;
  preVote: boolean;
  maxInflight: number;
  maxSize: number;
}

function argVal(args: readonly CmdArg[], key: string): readonly string[] | undefined {
  return args.find((a) => a.key === key)?.vals;
}
function argBool(args: readonly CmdArg[], key: string, dflt: boolean): boolean {
  const v = argVal(args, key);
  return v === undefined ? dflt : v[0] === "true";
}
function argInt(args: readonly CmdArg[], key: string, dflt: number): number {
  const v = argVal(args, key);
  return v === undefined ? dflt : Number(v[0]);
}
/** Positional (key without '=') numeric args: node IDs. */
function posIds(args: readonly CmdArg[]): bigint[] {
  return args.filter((a) => a.vals.length === 0 && /^\d+$/.test(a.key)).map((a) => BigInt(a.key));
}

export function parseConfChange(tok: string): ConfChange {
  const kind = tok[0];
  const nodeId = BigInt(tok.slice(1));
  const type =
    kind === "v" ? ConfChangeType.AddNode
    : kind === "l" ? ConfChangeType.AddLearnerNode
    : kind === "r" ? ConfChangeType.RemoveNode
    : kind === "u" ? ConfChangeType.UpdateNode
    : undefined;
  if (type === undefined) throw new Error(`unknown conf change ${tok}`);
  return { type, nodeId, id: 0n, context: new Uint8Array(0) };
}

export class InteractionEnv {
  private readonly nodes: Node[] = [];
  private messages: Message[] = [];
  private out: string[] = [];
  private indent = "";
  private level: Level = "info";
  /** Node ID → partition group; messages between groups are dropped on delivery. */
  private partition: Map<bigint, number> | undefined;

  private print(text: string): void {
    for (const l of text.split("\n")) this.out.push(this.indent + l);
  }

  private logger(): Logger {
    const log = (lvl: Level, tag: string) => (m: string) => {
      if (LEVELS.indexOf(lvl) >= LEVELS.indexOf(this.level)) this.print(`${tag} ${m}`);
    };
    return { debug: log("debug", "DEBUG"), info: log("info", "INFO"), warn: log("warn", "WARN") };
  }

  private node(id: bigint): Node {
    const n = this.nodes[Number(id) - 1];
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  private newRawNode(n: { id: bigint; storage: MemoryStorage; opts: NodeOpts }, applied: number): RawNode {
    return new RawNode({
      id: n.id, electionTick: 10, heartbeatTick: 1, storage: n.storage, applied,
      checkQuorum: n.opts.checkQuorum, preVote: n.opts.preVote,
      maxInflightMsgs: n.opts.maxInflight, maxSizePerMsg: n.opts.maxSize,
      rng: () => 0, logger: this.logger(),
    });
  }

  handle(tc: TestCase): string {
    this.out = [];
    this.indent = "";
    const a = tc.args;
    const ids = posIds(a);
    switch (tc.cmd) {
      case "log-level": {
        const l = a[0]?.key as Level;
        if (!LEVELS.includes(l)) throw new Error(`unknown level ${l}`);
        this.level = l;
        break;
      }
      case "add-nodes": this.addNodes(a); break;
      case "campaign": this.node(ids[0]!).raw.campaign(); break;
      case "propose": {
        const data = a[1]?.key ?? "";
        this.dropped(() => this.node(ids[0]!).raw.propose(enc.encode(data)));
        break;
      }
      case "propose-conf-change": {
        const cc = parseConfChange(a[1]!.key);
        this.dropped(() => this.node(ids[0]!).raw.proposeConfChange(cc));
        break;
      }
      case "process-ready": for (const id of ids) this.processReady(this.node(id), true); break;
      case "deliver-msgs": {
        const drop = argVal(a, "drop");
        if (drop) for (const id of drop) this.deliver(BigInt(id), true);
        for (const id of ids) this.deliver(id, false);
        break;
      }
      case "stabilize": this.stabilize(ids.length > 0 ? ids : this.nodes.map((n) => n.id)); break;
      case "tick-heartbeat": this.node(ids[0]!).raw.tick(); break;
      case "tick-election": for (let i = 0; i < 10; i++) this.node(ids[0]!).raw.tick(); break;
      case "status": this.status(this.node(ids[0]!)); break;
      case "raft-log": this.raftLog(this.node(ids[0]!)); break;
      case "raft-state": this.raftState(); break;
      case "state-machine": {
        const n = this.node(ids[0]!);
        this.print(`applied=${n.applied} values=[${n.values.join(" ")}]`);
        break;
      }
      case "partition": {
        this.partition = new Map(this.nodes.map((n) => [n.id, ids.includes(n.id) ? 1 : 0]));
        break;
      }
      case "heal": this.partition = undefined; break;
      case "transfer-leadership": {
        const from = BigInt(argVal(a, "from")![0]!);
        const to = BigInt(argVal(a, "to")![0]!);
        this.node(from).raw.transferLeader(to);
        break;
      }
      case "read-index": this.node(ids[0]!).raw.readIndex(enc.encode(a[1]!.key)); break;
      case "compact": this.compact(this.node(ids[0]!), Number(a[1]!.key)); break;
      case "restart": this.restart(this.node(ids[0]!)); break;
      case "report-unreachable": this.node(ids[0]!).raw.reportUnreachable(ids[1]!); break;
      default:
        throw new Error(`unknown command ${tc.cmd}`);
    }
    return this.out.join("\n");
  }

  private dropped(f: () => void): void {
    try {
      f();
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e;
      this.print(e.message);
    }
  }

  private addNodes(a: readonly CmdArg[]): void {
    const n = Number(a[0]!.key);
    const voters = (argVal(a, "voters") ?? []).map(BigInt);
    const learners = (argVal(a, "learners") ?? []).map(BigInt);
    const index = argInt(a, "index", voters.length > 0 ? 1 : 0);
    const opts: NodeOpts = {
      checkQuorum: argBool(a, "checkquorum", true),
      preVote: argBool(a, "prevote", true),
      maxInflight: argInt(a, "max-inflight", 256),
      maxSize: argInt(a, "max-size", 1024 * 1024),
    };
    for (let i = 0; i < n; i++) {
      const id = BigInt(this.nodes.length + 1);
      const storage = new MemoryStorage();
      const confState = { voters, learners };
      if (index > 0) storage.applySnapshot({ meta: { index, term: 1, confState }, data: enc.encode("") });
      const raw = this.newRawNode({ id, storage, opts }, index);
      this.nodes.push({ id, raw, storage, opts, values: [], applied: index, confState });
    }
  }

  private processReady(n: Node, header: boolean): void {
    if (header) {
      this.print(`> ${hexId(n.id)} handling Ready`);
      this.indent = "  ";
    }
    if (!n.raw.hasReady()) {
      this.print("<empty Ready>");
      this.indent = "";
      return;
    }
    const rd = n.raw.ready();
    this.print(describeReady(rd));
    // Persist: snapshot, entries, hard state; then send; then apply.
    if (rd.snapshot) {
      n.storage.applySnapshot(rd.snapshot);
      const s = dec.decode(rd.snapshot.data);
      n.values = s === "" ? [] : s.split(" ");
      n.applied = rd.snapshot.meta.index;
      n.confState = rd.snapshot.meta.confState;
    }
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    // A partition drops messages as they are sent; ones already queued are dropped on delivery.
    this.messages.push(...rd.messages.filter((m) => !this.cut(m)));
    for (const e of rd.committedEntries) {
      if (e.type === EntryType.ConfChange) n.confState = n.raw.applyConfChange(decodeConfChange(e.data));
      else if (e.data.length > 0) n.values.push(dec.decode(e.data));
      n.applied = e.index;
    }
    n.raw.advance(rd);
    this.indent = "";
  }

  private cut(m: Message): boolean {
    return this.partition !== undefined && this.partition.get(m.from) !== this.partition.get(m.to);
  }

  /** Delivers (or drops) every queued message to `id`; returns how many there were. */
  private deliver(id: bigint, drop: boolean): number {
    const mine = this.messages.filter((m) => m.to === id);
    if (mine.length === 0) return 0;
    this.messages = this.messages.filter((m) => m.to !== id);
    const n = this.node(id);
    for (const m of mine) {
      if (drop || this.cut(m)) {
        this.print(`dropped: ${describeMessage(m)}`);
        continue;
      }
      this.print(describeMessage(m));
      this.indent = "  ";
      try {
        n.raw.step(m);
      } catch (e) {
        this.print(`error: ${(e as Error).message}`);
      }
      this.indent = "";
    }
    return mine.length;
  }

  private stabilize(ids: bigint[]): void {
    for (;;) {
      let progress = false;
      for (const id of ids) {
        const n = this.node(id);
        if (n.raw.hasReady()) {
          this.processReady(n, true);
          progress = true;
        }
      }
      for (const id of ids) {
        if (!this.messages.some((m) => m.to === id)) continue;
        this.print(`> ${hexId(id)} receiving messages`);
        const saved = this.out;
        this.out = [];
        this.deliver(id, false);
        const lines = this.out;
        this.out = saved;
        for (const l of lines) this.out.push("  " + l);
        progress = true;
      }
      if (!progress) return;
    }
  }

  private status(n: Node): void {
    const st = n.raw.status();
    if (st.progress.size === 0) {
      this.print(`${hexId(n.id)}: ${st.role} term=${st.term} lead=${hexId(st.lead)} (no progress: not leader)`);
      return;
    }
    for (const [id, pr] of [...st.progress].sort((x, y) => (x[0] < y[0] ? -1 : 1))) {
      const pri = n.raw.raft.prs.progress.get(id)!;
      this.print(`${hexId(id)}: ${pri.toString()}`);
      void pr;
    }
  }

  private raftLog(n: Node): void {
    const fi = n.storage.firstIndex();
    const li = n.storage.lastIndex();
    if (li < fi) {
      this.print(`log is empty: first index=${fi}, last index=${li}`);
      return;
    }
    this.print(describeEntries(n.storage.entries(fi, li + 1)));
  }

  private raftState(): void {
    for (const n of this.nodes) {
      const st = n.raw.status();
      const kind = st.config.voters.includes(n.id) ? "Voter" : st.config.learners.includes(n.id) ? "Learner" : "Non-member";
      this.print(`${hexId(n.id)}: ${st.role} (${kind}) Term:${st.term} Lead:${hexId(st.lead)}`);
    }
  }

  private compact(n: Node, index: number): void {
    if (index > n.applied) throw new Error(`cannot compact ${index} beyond applied ${n.applied}`);
    // Values applied up to `index`: count normal non-empty entries up to it.
    const fi = n.storage.firstIndex();
    const later = index < n.applied ? n.storage.entries(index + 1, n.applied + 1) : [];
    const laterCount = later.filter((e) => e.type === EntryType.Normal && e.data.length > 0).length;
    const values = n.values.slice(0, n.values.length - laterCount);
    n.storage.createSnapshot(index, n.confState, enc.encode(values.join(" ")));
    n.storage.compact(index);
    void fi;
    this.raftLog(n);
  }

  /** Crash and restart: unpersisted entries and the volatile state machine are lost. */
  private restart(n: Node): void {
    const snap = n.storage.snapshot();
    const s = dec.decode(snap.data);
    n.values = s === "" ? [] : s.split(" ");
    n.applied = snap.meta.index;
    n.confState = snap.meta.confState;
    n.raw = this.newRawNode(n, n.applied);
  }
}
