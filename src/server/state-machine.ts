// The replicated state machine: MVCC store + leases + alarms + watch hub over one SQLite
// file. The server appends entries to the durable log first, then calls apply(batch):
// every batch is written in ONE SQLite transaction together with the applied index, so a
// crash at any point replays cleanly from the log (entries ≤ appliedIndex are skipped).
// Single writer: apply, compaction steps and defragment are serialized on one chain.
// Its interface and options are in state-machine-types.ts; its snapshot image (streamed to
// followers, installed from a leader) in state-image.ts.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { SqlDb, type InStatement } from "../storage/sql-db.ts";
import { InternalRaftRequestSchema, type InternalRaftRequest } from "../gen/internal_pb.ts";
import type {
  AlarmMember,
  LeaseLeasesResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  RangeRequest,
  RangeResponse,
  SnapshotResponse,
  WatchResponse,
} from "../gen/rpc_pb.ts";
import { Lessor } from "../lease/index.ts";
import { Crc32, fromKey, keyRange, MvccStore, selectRange } from "../mvcc/index.ts";
import type { MemberRow } from "../membership/members.ts";
import { stateDdl, statePragmas, SYNC_TOUCH } from "../storage/schema.ts";
import { StateReader } from "../storage/state-reader.ts";
import { AUTH_ROWS_SQL, authTableRows } from "../storage/auth-rows.ts";
import { snapshotResponses } from "../snapshot/index.ts";
import { type StepKind, StepDurations } from "./step-durations.ts";
import { KvCounters } from "./kv-counters.ts";
import { LeaseCounters } from "./lease-counters.ts";
import { StateSpace } from "./state-space.ts";
import { recoverSideCopy } from "./side-copy-switch.ts";
import { AlarmSet } from "./apply-alarm.ts";
import { AuthStore } from "../auth/index.ts";
import { type ApplyContext, applyRequest, needsHistory } from "./apply.ts";
import { authStage } from "./apply-auth.ts";
import { runAsync, runSync, txnHasPut } from "./apply-kv.ts";
import { Errors, type EtcdError } from "../rpctypes/index.ts";
import type { StreamFlow, WatchStream } from "./types.ts";
import { type FileEffects, hostFiles, hostTimers, type Timers } from "./effects.ts";
import { WatchHub, type WatchPermission } from "./watch.ts";
import { applyV2Request, mirrorAttributes, mirrorMembership } from "./v2-applier.ts";
import { changeStatements, LOAD_QUERIES, loadStore, V2Store } from "../v2store/index.ts";
import { ALREADY_APPLIED, type AppliedEntry, type StateMachine, type StateMachineOptions } from "./state-machine-types.ts";
import { streamStateImage } from "./state-image.ts";

/** Applied batches are committed to the state file together, at most this late (ms) ... */
const GROUP_COMMIT_MS = 25;
/** ... or once this many statements wait. */
const GROUP_MAX_STATEMENTS = 2000;
export async function openStateMachine(o: StateMachineOptions): Promise<StateMachine> {
  mkdirSync(dirname(o.path), { recursive: true });
  // A defragment's copy a crash left: finished if it was decided, else deleted.
  recoverSideCopy(o.path);
  const db = new SqlDb(o.path);
  for (const p of statePragmas) await db.execute(p);
  if (o.unsafeNoFsync) await db.execute("PRAGMA synchronous=OFF");
  for (const d of stateDdl) await db.execute(d);
  const m = (await db.execute("SELECT applied_index, revision, compact_revision, scheduled_compact FROM meta WHERE id = 1")).rows[0];
  if (m === undefined) throw new Error("state: meta row missing");
  db.resetMark(Number(m[0]));
  const auth = AuthStore.load(
    authTableRows(
      (await db.execute(AUTH_ROWS_SQL.meta)).rows[0],
      (await db.execute(AUTH_ROWS_SQL.users)).rows,
      (await db.execute(AUTH_ROWS_SQL.roles)).rows,
    ),
  );
  const sm = new Sm(db, o, Number(m[0]), await MvccStore.open(db, {
    revision: Number(m[1]),
    compactRevision: Number(m[2]),
    scheduledCompact: Number(m[3]),
  }), auth);
  await sm.load();
  return sm;
}

class Sm implements StateMachine {
  private readonly lessor: Lessor;
  private readonly alarmSet = new AlarmSet();
  private hub: WatchHub;
  private hubDetached = false;
  private stmts: InStatement[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  private committedRev: number;
  /** Page counts, compaction, reclamation and defragment (state-space.ts). */
  private readonly space: StateSpace;
  readonly steps: StepDurations;
  readonly kvCounters: KvCounters;
  readonly leaseCounters: LeaseCounters;
  private broken: unknown;
  private closed = false;
  private snapSeq = 0;
  /** Snapshot views open on the state file (a side copy's switch waits for them). */
  private openReaders = 0;
  private readersOpened = false;
  private commitTimer: unknown;
  private readonly timers: Timers;
  private readonly files: FileEffects;
  private uncommitted = 0;
  private readonly ctx: ApplyContext & { index: number };
  /** An auth change was applied in this batch: open watchers are checked again after it. */
  private authChanged = false;
  readonly v2: V2Store;

  constructor(
    private readonly db: SqlDb,
    private readonly o: StateMachineOptions,
    private applied: number,
    private readonly store: MvccStore,
    readonly auth: AuthStore,
  ) {
    this.timers = o.timers ?? hostTimers;
    this.files = o.files ?? hostFiles;
    const ev = o.authEvents;
    auth.events = {
      userInvalidated: (name) => ev?.userInvalidated(name),
      enabledChanged: (on) => ev?.enabledChanged(on),
      changed: () => {
        this.authChanged = true;
      },
    };
    this.steps = o.steps ?? new StepDurations();
    this.kvCounters = o.kvCounters ?? new KvCounters();
    this.leaseCounters = o.leaseCounters ?? new LeaseCounters();
    const self = this;
    this.space = new StateSpace(
      {
        db,
        store,
        serial: <T>(kind: StepKind, fn: () => T | Promise<T>) => this.serial(kind, fn),
        get closed() {
          return self.closed;
        },
        get openReaders() {
          return self.openReaders;
        },
        get readersOpened() {
          const r = self.readersOpened;
          self.readersOpened = false;
          return r;
        },
        pragmas: statePragmas.concat(o.unsafeNoFsync ? ["PRAGMA synchronous=OFF"] : []),
        fail: (e) => {
          this.broken ??= e;
        },
      },
      {
        path: o.path, clock: o.clock, quotaBackendBytes: o.quotaBackendBytes, timers: this.timers, steps: this.steps,
        // With the checkpointer's thread (the member), free pages go back by a copy on the side.
        sideCopy: o.openCheckpointer !== undefined,
        ...(o.collectGarbage !== undefined ? { collectGarbage: o.collectGarbage } : {}),
        ...(o.compactionBatchLimit !== undefined ? { compactionBatchLimit: o.compactionBatchLimit } : {}),
        ...(o.openCheckpointer !== undefined ? { openCheckpointer: o.openCheckpointer } : {}),
      },
    );
    this.lessor = new Lessor(o.clock, o.minLeaseTtl);
    this.v2 = new V2Store({ now: o.wallClock ?? o.clock, namespaces: ["/0", "/1"], hub: o.v2Hub });
    this.committedRev = store.revision;
    this.hub = new WatchHub(
      {
        committedRevision: () => this.committedRev,
        compactRevision: () => this.store.compactRevision,
        header: (rev) => this.o.header(rev),
        changesBetween: (r, from, to) => this.store.changesBetween(r, from, to),
        stateAt: (key, rev) => this.store.stateAt(key, rev),
      },
      {
        fragmentBytes: o.maxRequestBytes + 512 * 1024,
        progressNotifyIntervalMs: o.progressNotifyIntervalMs,
        timers: this.timers,
      },
    );
    this.ctx = {
      store,
      lessor: this.lessor,
      alarms: this.alarmSet,
      header: o.header,
      counters: this.kvCounters,
      leaseCounters: this.leaseCounters,
      get stmts() {
        return self.stmts;
      },
      memberAttrs: o.onMemberAttrs,
      overQuota: (r) => this.quotaExceeded(r),
      authStore: auth,
      authStage,
      index: 0,
      tokenIssued: ev === undefined ? undefined : (token, user) => ev.tokenIssued(token, user),
      scheduleCompaction: (rev) => {
        store.compactRevision = rev;
        store.scheduledCompact = rev;
      },
    };
  }

  /** Restores leases (with their keys) and alarms; resumes an unfinished compaction. */
  async load(): Promise<void> {
    const ls = await this.db.execute("SELECT id, ttl, remaining FROM leases");
    for (const r of ls.rows) this.lessor.restore(BigInt(r[0] as string), Number(r[1]), Number(r[2]));
    for (const kv of this.store.index.range({ start: "", end: "" })) {
      if (kv.lease === 0n) continue;
      // A key may outlive its lease's row only if the state is corrupt.
      if (this.lessor.get(kv.lease) === undefined) throw new Error(`state: key attached to unknown lease ${kv.lease}`);
      this.lessor.attach(kv.lease, kv.k);
    }
    loadStore(this.v2, {
      index: (await this.db.execute(LOAD_QUERIES.index)).rows,
      nodes: (await this.db.execute(LOAD_QUERIES.nodes)).rows,
      events: (await this.db.execute(LOAD_QUERIES.events)).rows,
    });
    const as = await this.db.execute("SELECT member_id, alarm FROM alarms");
    for (const r of as.rows) this.alarmSet.restore(BigInt(r[0] as string), Number(r[1]));
    await this.space.refreshSizes();
    if (this.store.scheduledCompact > 0) this.space.compact();
  }

  get appliedIndex(): number {
    return this.applied;
  }
  get revision(): number {
    return this.store.revision;
  }
  get compactRevision(): number {
    return this.store.compactRevision;
  }

  /** Runs fn after every earlier serialized operation (single writer); its duration is a step. */
  private serial<T>(kind: StepKind, fn: () => T | Promise<T>): Promise<T> {
    const p = this.tail.then(() => {
      if (this.broken !== undefined) throw this.broken;
      const t0 = this.steps.now();
      const r = fn();
      if (!(r instanceof Promise)) {
        this.steps.observe(kind, this.steps.now() - t0);
        return r;
      }
      return r.finally(() => this.steps.observe(kind, this.steps.now() - t0));
    });
    this.tail = p.catch(() => undefined);
    return p;
  }

  apply(entries: AppliedEntry[]): Promise<Array<unknown | EtcdError>> {
    return this.serial("apply", () => this.applyBatch(entries));
  }

  private async applyBatch(entries: AppliedEntry[]): Promise<unknown[]> {
    const results: unknown[] = [];
    let last = this.applied;
    try {
      for (const e of entries) {
        if (e.index <= last) {
          // Already applied (replay after restart): a no-op by design. A proposal of this
          // process never lands here (assemble.ts rebases a log that lost entries the state
          // holds); if one did, its caller gets an error, not an empty answer.
          results.push(ALREADY_APPLIED);
          continue;
        }
        if (e.effect !== undefined) {
          e.effect(this.stmts);
          if (e.membership !== undefined) mirrorMembership(this.v2, e.membership);
          results.push(undefined);
          last = e.index;
          continue;
        }
        if (e.data.length === 0) {
          this.o.onEmptyEntry?.();
          results.push(undefined);
          last = e.index;
          continue;
        }
        const req = e.req ?? fromBinary(InternalRaftRequestSchema, e.data);
        this.ctx.index = e.index;
        if (req.v2 !== undefined) {
          results.push(applyV2Request(this.v2, req.v2));
          last = e.index;
          continue;
        }
        if (req.memberAttrs !== undefined) mirrorAttributes(this.v2, req.memberAttrs);
        if (needsHistory(req)) {
          // History reads must see this batch's earlier writes: commit them first.
          if (last > this.applied) this.flush(last);
          results.push(await runAsync(this.store, applyRequest(this.ctx, req)));
        } else {
          results.push(runSync(applyRequest(this.ctx, req)));
        }
        last = e.index;
        if (this.authChanged) {
          // Watchers that lost their permission are canceled before any later event of this
          // batch reaches them: deliver what came before, then check them again.
          this.authChanged = false;
          this.flush(last);
          this.hub.authChanged();
        }
      }
      if (last > this.applied) this.flush(last);
    } catch (e) {
      // In-memory state may now differ from disk: stop serving writes (the member restarts).
      this.broken = e;
      throw e;
    }
    return results;
  }

  /** Makes every applied batch durable in the state file (SQLite commit). */
  commitGroup(): void {
    if (this.commitTimer !== undefined) this.timers.clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    this.uncommitted = 0;
    if (this.broken !== undefined) return;
    try {
      this.db.commitGroup();
    } catch (e) {
      // The group may be gone from the file (SQLITE_FULL rolls it back): memory is ahead of it.
      this.broken = e;
      throw e;
    }
  }

  syncToDisk(): void {
    this.commitGroup();
    if (this.broken !== undefined) return;
    try {
      this.db.syncToDisk(SYNC_TOUCH);
    } catch (e) {
      this.broken = e;
      throw e;
    }
  }

  private timedCommit(): void {
    this.commitTimer = undefined;
    // A failed commit leaves the state file behind memory: the next apply fails with it and
    // the loop stops the member (a restart replays from the last durable index).
    this.serial("commit", () => this.commitGroup()).catch((e: unknown) => {
      this.broken ??= e;
    });
  }

  get durableIndex(): number {
    return this.db.durableMark;
  }

  private flush(index: number): void {
    const s = this.store;
    const stmts = s.takeStatements();
    for (const st of this.stmts) stmts.push(st);
    this.stmts = [];
    changeStatements(this.v2, this.v2.takeChanges(), stmts);
    stmts.push({
      sql: "UPDATE meta SET applied_index = ?, revision = ?, compact_revision = ?, scheduled_compact = ? WHERE id = 1",
      args: [index, s.revision, s.compactRevision, s.scheduledCompact],
    });
    // Page counts cost a statement per batch; far from the quota they are refreshed every
    // SIZE_REFRESH_BATCHES batches (or SIZE_REFRESH_MS), near it after every batch.
    const sizes = this.space.sizeRefreshDue();
    if (sizes) stmts.push("SELECT * FROM pragma_page_count(), pragma_freelist_count()");
    const rs = this.db.write(stmts, index);
    this.uncommitted += stmts.length;
    if (this.uncommitted >= GROUP_MAX_STATEMENTS || this.o.groupCommitMs === 0) this.commitGroup();
    else this.commitTimer ??= this.timers.setTimeout(() => this.timedCommit(), this.o.groupCommitMs ?? GROUP_COMMIT_MS);
    this.space.batchWritten(sizes, sizes ? rs[rs.length - 1]!.rows[0] : undefined);
    this.applied = index;
    this.committedRev = s.revision;
    this.hub.notify(s.takeChanges());
    if (s.scheduledCompact > 0) this.space.compact();
  }

  // ---- reads ----

  keyCount(): number {
    return this.store.index.size;
  }

  watchCounts(): { streams: number; watchers: number } {
    return { streams: this.hub.streamCount, watchers: this.hub.watcherCount };
  }

  get quotaBackendBytes(): number {
    return this.o.quotaBackendBytes;
  }

  async range(req: RangeRequest): Promise<RangeResponse> {
    this.kvCounters.range.value++;
    const s = this.store;
    const current = s.revision;
    const asked = Number(req.revision);
    const kr = keyRange(req.key, req.rangeEnd);
    let out;
    if (asked <= 0 || asked === current) {
      out = selectRange(s.index.range(kr), req, () => s.index.count(kr));
    } else {
      if (asked > current) throw Errors.futureRev;
      if (asked < s.compactRevision) throw Errors.compacted;
      await this.tail; // history rows of applied entries are on disk
      out = selectRange(await s.rangeAt(kr, asked), req);
    }
    return {
      $typeName: "etcdserverpb.RangeResponse",
      header: this.o.header(current),
      kvs: out.kvs,
      more: out.more,
      count: BigInt(out.count),
    };
  }

  openWatchStream(send: (r: WatchResponse) => void, permission?: WatchPermission, flow?: StreamFlow): WatchStream {
    return this.hub.open(send, permission, flow);
  }

  leaseKeys(id: bigint): Uint8Array[] {
    const l = this.lessor.get(id);
    return l === undefined ? [] : [...l.keys].sort().map(fromKey);
  }

  progressTick(): void {
    this.hub.progressTick();
  }

  // ---- leases ----

  leaseRenew(id: bigint): number {
    return this.lessor.renew(id);
  }

  leaseCheckpointed(id: bigint): boolean {
    return this.lessor.checkpointed(id);
  }

  leaseCheckpoints(limit: number): { ID: bigint; remainingTTL: bigint }[] {
    const out: { ID: bigint; remainingTTL: bigint }[] = [];
    for (const id of this.lessor.ids()) {
      if (out.length >= limit) break;
      const l = this.lessor.get(id)!;
      const remaining = this.lessor.remainingSecondsCeil(l);
      if (remaining > 0) out.push({ ID: id, remainingTTL: BigInt(remaining) });
    }
    return out;
  }

  leaseTimeToLive(req: LeaseTimeToLiveRequest): LeaseTimeToLiveResponse {
    const l = this.lessor.get(req.ID);
    const res: LeaseTimeToLiveResponse = {
      $typeName: "etcdserverpb.LeaseTimeToLiveResponse",
      header: this.o.header(this.store.revision),
      ID: req.ID,
      TTL: -1n,
      grantedTTL: 0n,
      keys: [],
    };
    if (l === undefined) return res;
    res.TTL = BigInt(this.lessor.remainingSeconds(l));
    res.grantedTTL = BigInt(l.ttl);
    if (req.keys) res.keys = [...l.keys].sort().map(fromKey);
    return res;
  }

  leaseLeases(): LeaseLeasesResponse {
    return {
      $typeName: "etcdserverpb.LeaseLeasesResponse",
      header: this.o.header(this.store.revision),
      leases: this.lessor.ids().map((ID) => ({ $typeName: "etcdserverpb.LeaseStatus", ID })),
    };
  }

  expiredLeases(now: number, limit: number): bigint[] {
    return this.lessor.expired(now, limit);
  }

  leaseIdExists(id: bigint): boolean {
    return this.lessor.get(id) !== undefined;
  }

  leasePromote(extendMs: number): void {
    this.lessor.promote(extendMs);
  }

  // ---- quota / alarms ----

  alarms(): AlarmMember[] {
    return this.alarmSet.get();
  }

  quotaExceeded(req: InternalRaftRequest): boolean {
    let cost = 0;
    if (req.put !== undefined) cost = req.put.key.length + req.put.value.length + 64;
    else if (req.txn !== undefined && txnHasPut(req.txn)) cost = 1024;
    else if (req.leaseGrant !== undefined) cost = 64;
    if (cost === 0) return false;
    return this.dbSize() + cost > this.o.quotaBackendBytes;
  }

  // ---- maintenance ----

  dbSize(): number {
    return this.space.dbSize();
  }

  dbSizeInUse(): number {
    return this.space.dbSizeInUse();
  }

  compactionDone(): Promise<void> {
    return this.space.compactionDone();
  }

  defragment(): Promise<void> {
    return this.space.defragment();
  }

  async hash(): Promise<number> {
    await this.tail;
    const crc = new Crc32();
    crc.updateU64(this.store.compactRevision);
    crc.updateU64(await this.store.hashKV(this.store.revision));
    const ls = await this.db.execute("SELECT id, ttl FROM leases ORDER BY id");
    for (const r of ls.rows) crc.update(new TextEncoder().encode(`${r[0] as string}:${Number(r[1])};`));
    // etcd's Hash covers its whole backend, the auth buckets included: members that disagree
    // on users, roles or permissions must not report the same hash (HashKV stays keys only).
    this.auth.feedHash((b) => crc.update(b));
    return crc.digest();
  }

  async hashKV(rev: number): Promise<{ hash: number; compactRevision: number; revision: number }> {
    const s = this.store;
    const current = s.revision;
    const at = rev <= 0 ? current : rev;
    if (at > current) throw Errors.futureRev;
    // etcd refuses an asked revision at or below the compaction; 0 (current) is always hashed.
    if (rev > 0 && s.compactRevision > 0 && rev <= s.compactRevision) throw Errors.compacted;
    await this.tail;
    const hash = await s.hashKV(at);
    // etcd reports -1 when the store was never compacted.
    return { hash, compactRevision: s.compactRevision === 0 ? -1 : s.compactRevision, revision: current };
  }

  async *snapshot(): AsyncIterable<SnapshotResponse> {
    const tmp = `${this.o.path}.snap-${process.pid}-${++this.snapSeq}.tmp`;
    // VACUUM INTO writes a consistent, compact copy; taken between apply batches.
    yield* streamStateImage(tmp, this.files, () => this.serial("snapshot", () => this.db.execute({ sql: "VACUUM INTO ?", args: [tmp] })));
  }

  etcdSnapshot(): AsyncIterable<SnapshotResponse> {
    // Opened between two apply batches, with every applied batch committed: the view holds the
    // state at exactly appliedIndex, and keeps it while applying goes on.
    const open = () =>
      this.serial("snapshot", () => {
        this.commitGroup();
        const view = StateReader.open(this.o.path);
        this.openReaders++;
        this.readersOpened = true;
        const close = view.close.bind(view);
        let closed = false;
        view.close = () => {
          if (!closed) this.openReaders--;
          closed = true;
          close();
        };
        return view;
      });
    return snapshotResponses(open, this.o.collectGarbage);
  }

  async members(): Promise<MemberRow[]> {
    await this.tail;
    const rs = await this.db.execute("SELECT id, name, peer_urls, client_urls, is_learner, removed FROM members");
    return rs.rows.map((r) => ({
      id: r[0] as string,
      name: r[1] as string,
      peerUrls: r[2] as string,
      clientUrls: r[3] as string,
      isLearner: Number(r[4]),
      removed: Number(r[5]),
    }));
  }

  detachWatchHub(): WatchHub {
    this.hubDetached = true;
    this.hub.suspend();
    return this.hub;
  }

  attachWatchHub(hub: WatchHub): void {
    // This machine's own hub has no streams yet (nobody held the machine); its source is ours.
    const own = this.hub;
    own.close();
    this.hub = hub;
    hub.rebind(own.src);
    // The installed state may hold other users and permissions.
    hub.authChanged();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.hubDetached) this.hub.close();
    await this.space.settle();
    await this.tail;
    this.commitGroup();
    // The checkpointer's connection closes first: this one, closing last, checkpoints what is
    // left and removes the WAL, and nothing touches the file after close() resolves.
    await this.space.close();
    this.db.close();
  }
}

