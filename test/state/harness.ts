// Test harness: a state machine in a temp dir, fed with encoded log entries like the server does.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { InternalRaftRequestSchema } from "../../src/gen/internal_pb.ts";
import { ResponseHeaderSchema, type WatchResponse } from "../../src/gen/rpc_pb.ts";
import { openStateMachine } from "../../src/server/state-machine.ts";
import type { StateMachine, StateMachineOptions } from "../../src/server/state-machine-types.ts";

export type Req = MessageInitShape<typeof InternalRaftRequestSchema>;

export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (b: Uint8Array) => new TextDecoder().decode(b);

export class Harness {
  now = 1_000_000;
  index = 0;
  sm!: StateMachine;
  readonly dir = mkdtempSync(join(tmpdir(), "conclave-sm-"));
  readonly path = join(this.dir, "member", "state.db");

  constructor(readonly extra: Partial<StateMachineOptions> = {}) {}

  async open(): Promise<this> {
    this.sm = await openStateMachine({
      path: this.path,
      clock: () => this.now,
      header: (revision) => create(ResponseHeaderSchema, { clusterId: 1n, memberId: 2n, revision: BigInt(revision), raftTerm: 3n }),
      memberId: 2n,
      minLeaseTtl: 2,
      quotaBackendBytes: 2 * 1024 ** 3,
      maxRequestBytes: 1.5 * 1024 * 1024,
      progressNotifyIntervalMs: 0,
      unsafeNoFsync: true,
      ...this.extra,
    });
    return this;
  }

  async reopen(): Promise<void> {
    await this.sm.close();
    await this.open();
  }

  /** Applies one request as the next log entry and returns its result. */
  async do(r: Req): Promise<any> {
    const [res] = await this.sm.apply([{ index: ++this.index, data: toBinary(InternalRaftRequestSchema, create(InternalRaftRequestSchema, r)) }]);
    return res;
  }

  /** Applies several requests as one batch. */
  async batch(rs: Req[]): Promise<any[]> {
    return this.sm.apply(
      rs.map((r) => ({ index: ++this.index, data: toBinary(InternalRaftRequestSchema, create(InternalRaftRequestSchema, r)) })),
    );
  }

  put(key: string, value: string, extra: Record<string, unknown> = {}): Promise<any> {
    return this.do({ put: { key: enc(key), value: enc(value), ...extra } });
  }

  async get(key: string, extra: Record<string, unknown> = {}): Promise<any> {
    return this.sm.range(create((await import("../../src/gen/rpc_pb.ts")).RangeRequestSchema, { key: enc(key), ...extra }));
  }

  async close(): Promise<void> {
    await this.sm.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Short text form of a watch response for side-by-side expectations. */
export function fmtWatch(r: WatchResponse): string {
  const parts = [`id=${r.watchId}`, `rev=${r.header?.revision ?? 0n}`];
  if (r.created) parts.push("created");
  if (r.canceled) parts.push("canceled");
  if (r.compactRevision !== 0n) parts.push(`compact=${r.compactRevision}`);
  if (r.cancelReason !== "") parts.push(`reason=${r.cancelReason}`);
  if (r.fragment) parts.push("fragment");
  for (const e of r.events) {
    const kv = e.kv!;
    let s = `${e.type === 0 ? "PUT" : "DEL"} ${dec(kv.key)}@${kv.modRevision}`;
    if (e.type === 0) s += `=${dec(kv.value)} c${kv.createRevision} v${kv.version}`;
    if (e.prevKv !== undefined) s += ` prev=${dec(e.prevKv.value)}@${e.prevKv.modRevision}`;
    parts.push(s);
  }
  return parts.join(" ");
}

export function fmtKvs(kvs: { key: Uint8Array; value: Uint8Array; createRevision: bigint; modRevision: bigint; version: bigint; lease: bigint }[]): string[] {
  return kvs.map((kv) => `${dec(kv.key)}=${dec(kv.value)} c${kv.createRevision} m${kv.modRevision} v${kv.version}${kv.lease !== 0n ? ` l${kv.lease}` : ""}`);
}
