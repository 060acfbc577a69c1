// The cluster's member list as every member applies it from the log: conf changes (with the
// member carried in the ConfChange context, as etcd does) and published attributes. The state
// database's `members` table is its durable copy; this class keeps the live view and produces
// the statements that go into the same apply batch as the applied index.
import type { InStatement } from "../storage/sql-db.ts";
import { ConfChangeType, type ConfChange } from "../raft/conf-change.ts";

export interface MemberRecord {
  readonly id: bigint;
  readonly name: string;
  readonly peerURLs: readonly string[];
  readonly clientURLs: readonly string[];
  readonly isLearner: boolean;
}

/** A row of the members table (src/storage/schema.ts). */
export interface MemberRow {
  readonly id: string;
  readonly name: string;
  readonly peerUrls: string;
  readonly clientUrls: string;
  readonly isLearner: number;
  readonly removed: number;
}

/** What a ConfChange context carries (etcd stores the JSON of membership.Member). */
interface ContextJson {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export function encodeMemberContext(m: MemberRecord): Uint8Array {
  const j: ContextJson = { id: m.id.toString(16), name: m.name, peerURLs: [...m.peerURLs], clientURLs: [...m.clientURLs], isLearner: m.isLearner };
  return new TextEncoder().encode(JSON.stringify(j));
}

export function decodeMemberContext(b: Uint8Array): MemberRecord | undefined {
  if (b.length === 0) return undefined;
  const j = JSON.parse(new TextDecoder().decode(b)) as ContextJson;
  return { id: BigInt(`0x${j.id}`), name: j.name, peerURLs: j.peerURLs, clientURLs: j.clientURLs, isLearner: j.isLearner };
}

/** What applying a conf change did, for the server to act on (transport, stop when removed). */
export type MembershipEvent =
  | { readonly kind: "added"; readonly member: MemberRecord }
  | { readonly kind: "promoted"; readonly member: MemberRecord }
  | { readonly kind: "removed"; readonly id: bigint }
  | { readonly kind: "updated"; readonly member: MemberRecord }
  | { readonly kind: "none" };

export class MemberTable {
  private readonly live = new Map<bigint, MemberRecord>();
  private readonly gone = new Set<bigint>();

  static fromRows(rows: readonly MemberRow[]): MemberTable {
    const t = new MemberTable();
    for (const r of rows) {
      const id = BigInt(`0x${r.id}`);
      if (r.removed) {
        t.gone.add(id);
        continue;
      }
      t.live.set(id, {
        id,
        name: r.name,
        peerURLs: JSON.parse(r.peerUrls) as string[],
        clientURLs: JSON.parse(r.clientUrls) as string[],
        isLearner: r.isLearner !== 0,
      });
    }
    return t;
  }

  /** Members sorted by ID (etcd's member list order). */
  list(): MemberRecord[] {
    return [...this.live.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  get(id: bigint): MemberRecord | undefined {
    return this.live.get(id);
  }

  has(id: bigint): boolean {
    return this.live.has(id);
  }

  isRemoved(id: bigint): boolean {
    return this.gone.has(id);
  }

  get size(): number {
    return this.live.size;
  }

  /**
   * Applies a committed conf change. Idempotent when replayed after a restart: adding a member
   * that is already present keeps its published attributes.
   */
  applyConfChange(cc: ConfChange, out: InStatement[]): MembershipEvent {
    const ctx = decodeMemberContext(cc.context);
    const id = cc.nodeId;
    switch (cc.type) {
      case ConfChangeType.AddNode:
      case ConfChangeType.AddLearnerNode: {
        if (this.gone.has(id)) return { kind: "none" }; // a removed ID never comes back (etcd)
        const learner = cc.type === ConfChangeType.AddLearnerNode;
        const cur = this.live.get(id);
        if (cur !== undefined) {
          if (cur.isLearner && !learner) {
            const m = { ...cur, isLearner: false };
            this.put(m, out);
            return { kind: "promoted", member: m };
          }
          return { kind: "none" };
        }
        const m: MemberRecord = {
          id,
          name: ctx?.name ?? "",
          peerURLs: ctx?.peerURLs ?? [],
          clientURLs: ctx?.clientURLs ?? [],
          isLearner: learner,
        };
        this.put(m, out);
        return { kind: "added", member: m };
      }
      case ConfChangeType.RemoveNode: {
        if (!this.live.has(id) && this.gone.has(id)) return { kind: "none" };
        this.live.delete(id);
        this.gone.add(id);
        out.push({
          sql: "INSERT OR REPLACE INTO members (id, name, peer_urls, client_urls, is_learner, removed) VALUES (?, '', '[]', '[]', 0, 1)",
          args: [id.toString(16)],
        });
        return { kind: "removed", id };
      }
      case ConfChangeType.UpdateNode: {
        const cur = this.live.get(id);
        if (cur === undefined || ctx === undefined) return { kind: "none" };
        const m = { ...cur, peerURLs: ctx.peerURLs };
        this.put(m, out);
        return { kind: "updated", member: m };
      }
    }
  }

  /** A member published its name and client URLs (etcd's attributes). */
  applyAttributes(id: bigint, name: string, clientURLs: readonly string[], out: InStatement[]): void {
    const cur = this.live.get(id);
    if (cur === undefined) return;
    this.put({ ...cur, name, clientURLs: [...clientURLs] }, out);
  }

  private put(m: MemberRecord, out: InStatement[]): void {
    this.live.set(m.id, m);
    out.push({
      sql: "INSERT OR REPLACE INTO members (id, name, peer_urls, client_urls, is_learner, removed) VALUES (?, ?, ?, ?, ?, 0)",
      args: [m.id.toString(16), m.name, JSON.stringify(m.peerURLs), JSON.stringify(m.clientURLs), m.isLearner ? 1 : 0],
    });
  }
}
