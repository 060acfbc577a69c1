// The state file's space: its page counts (endpoint status's dbSize and dbSizeInUse, the
// quota), compaction in the background, reclamation of free pages and defragment. Every write
// here is a bounded batch on the state machine's single-writer chain (`serial`), so apply
// batches queue behind one batch, never behind a whole-database operation; the WAL checkpointer
// thread runs while that work does.
import type { Checkpointer, OpenCheckpointer } from "../storage/checkpointer.ts";
import { realPath, walDescriptorTargets } from "../storage/wal-descriptors.ts";
import { trimFloor, trimWalStep, walExtent } from "../storage/sqlite-wal-trim.ts";
import type { MvccStore } from "../mvcc/index.ts";
import type { Row, SqlDb } from "../storage/sql-db.ts";
import type { Timers } from "./effects.ts";
import type { StepDurations, StepKind } from "./step-durations.ts";
import { defragBySideCopy, type SideCopyResult } from "./side-copy-switch.ts";

/** Far from the quota, page counts are read with every this many apply batches ... */
const SIZE_REFRESH_BATCHES = 64;
/** ... or after this many ms, whichever comes first. */
const SIZE_REFRESH_MS = 1000;
/**
 * Compaction and reclamation run in batches sized so that each holds the writer chain about
 * this long (ms): apply batches queue behind a batch, never behind a whole-database operation.
 */
const STEP_TARGET_MS = 4;
/** After a compaction, free pages beyond this share of the pages in use are given back ... */
const RECLAIM_SLACK = 0.25;
/** ... and beyond this many pages (a freelist this small is reused by the next writes). */
const RECLAIM_MIN_PAGES = 1024;
/** Reclamation batches start at this many pages and adapt (STEP_TARGET_MS) up to the cap. */
const RECLAIM_FIRST_PAGES = 64;
const RECLAIM_MAX_PAGES = 1 << 16;
/** Defragment answers once every free page is back, or after this long (ms), whichever is first. */
const DEFRAG_WAIT_MS = 3000;
/** Background batches wait while the checkpointer is behind by more than this many WAL frames (16 MB). */
const WAL_BACKLOG_FRAMES = 4096;
/**
 * Free pages are given back by a copy of the live data made on the side and switched in
 * (side-copy-switch.ts) rather than in place when there are more of them than this ... */
const SIDE_COPY_MIN_FREE_PAGES = 8192;
/** ... and more than this share of the pages in use (moving pages in place costs the file's size; a copy costs the live data). */
const SIDE_COPY_MIN_FREE_SHARE = 0.5;
/** A side copy asks every this many ms whether the readers of the file are gone ... */
const SIDE_COPY_READERS_POLL_MS = 200;
/** ... and waits at most this long (ms) for a closed reader's connection to be finalized. */
const SIDE_COPY_LINGER_MS = 3000;
/** Descriptors on the WAL while a side copy waits for readers: the writer's and its thread's. */
const OWN_WAL_DESCRIPTORS = 2;
/** After background work the WAL file is cut back to this size (sqlite-wal-trim.ts) ... */
const WAL_KEEP_BYTES = 4 << 20;
/** ... by at most this much per step (~3 ms of freeing blocks and page cache here) ... */
const WAL_TRIM_STEP_BYTES = 8 << 20;
/** ... once the WAL has restarted: asked every this many ms, this many times at most. */
const WAL_TRIM_WAIT_MS = 50;
const WAL_TRIM_WAITS = 200;

/** What the space keeper uses of the state machine that owns it. */
export interface SpaceHost {
  readonly db: SqlDb;
  readonly store: MvccStore;
  /** Runs fn after every earlier write of the machine (its single-writer chain). */
  serial<T>(kind: StepKind, fn: () => T | Promise<T>): Promise<T>;
  /** True once the machine is closing: background work stops between batches. */
  readonly closed: boolean;
  /** Connections of this process reading the state file besides the writer (snapshot views). */
  readonly openReaders: number;
  /** Whether a reader was opened since this was last read (reading it clears it). */
  readonly readersOpened: boolean;
  /** PRAGMAs the writer's connection runs when it opens a new state file. */
  readonly pragmas: readonly string[];
  /** A switch failed past its decision: the machine stops writing (its next open finishes it). */
  fail(e: unknown): void;
}

export interface SpaceOptions {
  /** The state file (the checkpointer opens its own connection to it). */
  readonly path: string;
  readonly clock: () => number;
  readonly quotaBackendBytes: number;
  /** Revisions per compaction batch at most. */
  readonly compactionBatchLimit?: number;
  readonly openCheckpointer?: OpenCheckpointer;
  readonly timers: Timers;
  readonly steps: StepDurations;
  /**
   * Gives free pages back by a copy made on the side and switched in (side-copy-switch.ts); off,
   * always in place.
   */
  readonly sideCopy?: boolean;
  /** A full garbage collection: closed readers' connections are finalized by one. */
  readonly collectGarbage?: () => void;
  /** What the last side copy did (tests and benchmarks read it). */
  readonly onSideCopy?: (r: SideCopyResult) => void;
}

export class StateSpace {
  private pageSize = 4096;
  private pages = 0;
  private freePages = 0;
  private batchesSinceSizes = 0;
  private sizesAt = -Infinity;
  private compacting: Promise<void> | undefined;
  private reclaiming: Promise<void> | undefined;
  /** The WAL checkpointer while background work runs (see background()). */
  private checkpointer: Checkpointer | undefined;
  private checkpointerUsers = 0;
  /** Starts and stops of the checkpointer, one after the other. */
  private checkpointerLife: Promise<void> = Promise.resolve();
  /** Since when a WAL descriptor besides the writer's outlived every reader (clock ms). */
  private lingerSince: number | undefined;
  /** The last reclamation switched a copy in. */
  private switched = false;
  /** Cutting the WAL file back after background work (trimWal). */
  private trimming: Promise<void> | undefined;
  /** Free pages the running reclamation leaves (0 = all of them, as defragment asks). */
  private reclaimKeep = 0;

  constructor(
    private readonly host: SpaceHost,
    private readonly o: SpaceOptions,
  ) {}

  dbSize(): number {
    return this.pages * this.pageSize;
  }

  dbSizeInUse(): number {
    return (this.pages - this.freePages) * this.pageSize;
  }

  /**
   * Whether the next apply batch should read the page counts: far from the quota every
   * SIZE_REFRESH_BATCHES batches (or SIZE_REFRESH_MS), near it after every batch.
   */
  sizeRefreshDue(): boolean {
    if (this.batchesSinceSizes + 1 >= SIZE_REFRESH_BATCHES) return true;
    if (this.dbSize() * 2 >= this.o.quotaBackendBytes) return true;
    return this.o.clock() - this.sizesAt >= SIZE_REFRESH_MS;
  }

  /** An apply batch was written; `sizes` is its page-count row when sizeRefreshDue() asked for one. */
  batchWritten(refreshed: boolean, sizes: Row | undefined): void {
    this.batchesSinceSizes++;
    if (!refreshed) return;
    if (sizes !== undefined) {
      this.pages = Number(sizes[0]);
      this.freePages = Number(sizes[1]);
    }
    this.batchesSinceSizes = 0;
    this.sizesAt = this.o.clock();
  }

  /** Reads the page counts and the page size (on open, and after a compaction or defragment). */
  async refreshSizes(): Promise<void> {
    const r = (await this.host.db.execute("SELECT * FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()")).rows[0]!;
    this.pages = Number(r[0]);
    this.freePages = Number(r[1]);
    this.pageSize = Number(r[2]);
    this.batchesSinceSizes = 0;
    this.sizesAt = this.o.clock();
  }

  /** Page counts, read after a compaction or reclamation batch (endpoint status stays true). */
  private readSizes(): void {
    const r = this.host.db.execute("SELECT * FROM pragma_page_count(), pragma_freelist_count()").rows[0];
    if (r === undefined) return;
    this.pages = Number(r[0]);
    this.freePages = Number(r[1]);
  }

  // ---- compaction in the background: small batches, each its own serialized write ----

  /** Starts the compaction the store has scheduled, unless one runs (it picks up a newer target). */
  compact(): void {
    if (this.compacting !== undefined) return;
    this.compacting = this.background(() => this.compactLoop()).finally(() => {
      this.compacting = undefined;
    });
    this.compacting.catch(() => undefined);
  }

  /** Resolves when no compaction runs (`compaction --physical` waits for this). */
  compactionDone(): Promise<void> {
    return this.compacting ?? Promise.resolve();
  }

  /**
   * Runs background work (compaction, reclamation) with the WAL checkpointer on its own thread:
   * those batches write the WAL fast, and SQLite's automatic checkpoint inside a commit on this
   * thread was their longest step (an fsync of the file). Started for the work and stopped
   * after it, so an idle member does not carry the thread's runtime (~15 MB); without one (no
   * `openCheckpointer`, or it failed to start) SQLite checkpoints as before.
   */
  private async background<T>(job: () => Promise<T>): Promise<T> {
    if (this.o.openCheckpointer === undefined) return job();
    if (this.checkpointerUsers++ === 0) this.startCheckpointer();
    // The job does not wait for the thread to start (~100 ms): until it is up, SQLite's
    // automatic checkpoint goes on as before.
    try {
      return await job();
    } finally {
      if (--this.checkpointerUsers === 0) {
        this.checkpointerLife = this.checkpointerLife.then(() => this.stopCheckpointer());
      }
    }
  }

  /** Starts the checkpointer thread (after any stop still under way), unless one runs. */
  private startCheckpointer(): void {
    const open = this.o.openCheckpointer;
    if (open === undefined) return;
    this.checkpointerLife = this.checkpointerLife.then(async () => {
      if (this.checkpointer !== undefined || this.host.closed) return;
      const cp = await open(this.o.path).catch(() => undefined);
      if (cp === undefined) return;
      this.checkpointer = cp;
      // Automatic checkpoints off while it runs. The WAL it lets grow is cut back afterwards
      // in steps (trimWal), not by journal_size_limit in one commit.
      await this.host.serial("checkpoint", () => this.host.db.executeMultiple("PRAGMA wal_autocheckpoint=0")).catch(() => undefined);
    });
  }

  private async stopCheckpointer(): Promise<void> {
    const cp = this.checkpointer;
    if (cp === undefined || this.checkpointerUsers > 0) return;
    // Hand back to SQLite's automatic checkpoint once the checkpointer has copied everything (or
    // after 2 s of trying): otherwise the next commit here would copy the rest and fsync.
    if (!this.host.closed) {
      let timer: unknown;
      await Promise.race([cp.caughtUp(0), new Promise<void>((r) => (timer = this.o.timers.setTimeout(r, 2000)))]);
      this.o.timers.clearTimeout(timer);
    }
    if (this.checkpointerUsers > 0) return; // new background work started meanwhile: keep it
    this.checkpointer = undefined;
    if (!this.host.closed) {
      await this.host.serial("checkpoint", () => this.host.db.executeMultiple("PRAGMA wal_autocheckpoint=1000")).catch(() => undefined);
    }
    await cp.stop();
    void this.trimWal();
  }

  private async compactLoop(): Promise<void> {
    const { db, store } = this.host;
    const limit = this.o.compactionBatchLimit ?? 1000;
    let batch = Math.min(limit, 100);
    for (;;) {
      const target = store.scheduledCompact;
      if (target === 0 || this.host.closed) return;
      let lo: number | undefined = Math.max(0, (await store.lowestRevision()) - 1);
      while (lo !== undefined && !this.host.closed) {
        await this.checkpointer?.caughtUp(WAL_BACKLOG_FRAMES);
        const step = store.compactionStep(lo, batch);
        const ms = await this.host.serial("compact", () => {
          const t0 = this.o.steps.now();
          db.batch([step.stmt], "write");
          this.readSizes();
          return this.o.steps.now() - t0;
        });
        batch = adapt(batch, ms, limit);
        lo = step.next;
        await this.yieldToOthers(); // apply batches in between
      }
      if (this.host.closed) return;
      const done = await this.host.serial("compact", async () => {
        if (store.scheduledCompact !== target) return false; // a newer compaction came in
        store.scheduledCompact = 0;
        await db.execute("UPDATE meta SET scheduled_compact = 0 WHERE id = 1");
        await this.refreshSizes();
        return true;
      });
      if (done) break;
    }
    // Give back what the compaction freed beyond a slack the next writes reuse (defragment
    // gives back the rest), after the compaction's waiters are answered.
    // Near the quota (which counts free pages, as etcd's does) everything goes back.
    const inUse = this.pages - this.freePages;
    const nearQuota = this.dbSize() * 2 >= this.o.quotaBackendBytes;
    const keep = nearQuota ? 0 : Math.max(RECLAIM_MIN_PAGES, Math.floor(inUse * RECLAIM_SLACK));
    if (this.freePages > keep) this.o.timers.setImmediate(() => void this.reclaim(keep).catch(() => undefined));
  }

  /**
   * Gives free pages back to the file system until at most `keep` are left, in batches of
   * `PRAGMA incremental_vacuum(n)` between apply batches (each moves up to n pages from the end
   * of the file into free ones and truncates it), sized to hold the writer chain about
   * STEP_TARGET_MS each. Joins a running reclamation, lowering its target.
   */
  private reclaim(keep: number): Promise<void> {
    this.reclaimKeep = Math.min(this.reclaimKeep, keep);
    if (this.reclaiming !== undefined) return this.reclaiming;
    this.reclaimKeep = keep;
    this.reclaiming = this.reclaimBySideCopy().then((done) => (done ? undefined : this.background(() => this.reclaimLoop()))).finally(() => {
      this.reclaiming = undefined;
    });
    return this.reclaiming;
  }

  /**
   * Gives every free page back by a copy of the live data switched in, when that is on and pays
   * (many free pages, most of the file); false when it did not (the caller reclaims in place).
   */
  private async reclaimBySideCopy(): Promise<boolean> {
    const inUse = this.pages - this.freePages;
    const worth = this.freePages > SIDE_COPY_MIN_FREE_PAGES && this.freePages > inUse * SIDE_COPY_MIN_FREE_SHARE;
    this.switched = false;
    if (!this.o.sideCopy || !worth || this.host.closed) return false;
    const host = this.host;
    // The copy's snapshot must not sit inside a compaction's deletes (they replay fine, but the
    // switch needs the checkpointer stopped, which runs while a compaction does).
    await this.compactionDone();
    const t0 = this.o.steps.now();
    let done = false;
    this.checkpointerUsers++;
    this.startCheckpointer();
    const r = await defragBySideCopy(
      {
        db: this.host.db,
        path: this.o.path,
        serial: (kind, fn) => this.host.serial(kind, fn),
        pragmas: this.host.pragmas,
        get closed() {
          return host.closed;
        },
        fail: (e) => this.host.fail(e),
        othersClosed: () => this.checkpointer === undefined && this.host.openReaders === 0,
        readersGone: async () => {
          if (!done) {
            done = true;
            if (--this.checkpointerUsers === 0) this.checkpointerLife = this.checkpointerLife.then(() => this.stopCheckpointer());
          }
          await this.checkpointerLife;
          return this.readersClosed();
        },
      },
      () => this.o.steps.now(),
    ).finally(() => {
      if (!done && --this.checkpointerUsers === 0) this.checkpointerLife = this.checkpointerLife.then(() => this.stopCheckpointer());
    });
    this.o.onSideCopy?.(r);
    if (process.env.CONCLAVE_DEBUG_SIDE_COPY) console.error(`side copy: ${JSON.stringify(r)} after ${(this.o.steps.now() - t0).toFixed(0)} ms`);
    this.switched = r.switched;
    if (!this.host.closed) await this.host.serial("checkpoint", () => this.refreshSizes()).catch(() => undefined);
    return r.switched;
  }

  /**
   * Resolves true once no reader has the state file open (snapshot streams end), false after
   * SIDE_COPY_READERS_POLL_MS while one still does. A closed reader may still hold its
   * connection — libsql closes one when a collection finalizes its statements — so after a
   * reader was opened a full collection runs, and while the state file's WAL has more
   * descriptors than the writer's and the copy thread's the answer is false (for
   * SIDE_COPY_LINGER_MS at most).
   */
  private async readersClosed(): Promise<boolean> {
    const until = this.o.clock() + SIDE_COPY_READERS_POLL_MS;
    while (this.host.openReaders > 0 && this.o.clock() < until && !this.host.closed) {
      await new Promise<void>((r) => this.o.timers.setTimeout(r, 20));
    }
    if (this.host.openReaders > 0) {
      this.lingerSince = undefined;
      return false;
    }
    // A full collection stalls the event loop: only after a reader was opened.
    if (this.host.readersOpened) {
      this.o.collectGarbage?.();
      await new Promise<void>((r) => this.o.timers.setTimeout(r, 20));
    }
    // A descriptor that outlives SIDE_COPY_LINGER_MS: the switch goes ahead and checks for
    // itself (it gives up, safely, if a connection still holds the WAL).
    this.lingerSince ??= this.o.clock();
    const gone = walDescriptors(this.o.path) <= OWN_WAL_DESCRIPTORS || this.o.clock() - this.lingerSince >= SIDE_COPY_LINGER_MS;
    if (gone) this.lingerSince = undefined;
    return gone;
  }

  private async reclaimLoop(): Promise<void> {
    let n = RECLAIM_FIRST_PAGES;
    while (!this.host.closed && this.freePages > this.reclaimKeep) {
      await this.checkpointer?.caughtUp(WAL_BACKLOG_FRAMES);
      const pages = Math.min(n, this.freePages - this.reclaimKeep);
      const ms = await this.host.serial("reclaim", () => {
        const t0 = this.o.steps.now();
        // executeMultiple steps the PRAGMA to completion (execute would free one page).
        this.host.db.executeMultiple(`PRAGMA incremental_vacuum(${pages})`);
        this.readSizes();
        return this.o.steps.now() - t0;
      });
      n = adapt(n, ms, RECLAIM_MAX_PAGES);
      await this.yieldToOthers();
    }
  }

  /**
   * Cuts the WAL file back to WAL_KEEP_BYTES in bounded steps on the chain, once it has
   * restarted (the writer's next commit after the checkpointer copied everything). Stops when
   * background work starts again (its own end trims again) or the member closes.
   */
  private trimWal(): Promise<void> {
    this.trimming ??= (async () => {
      let waits = 0;
      while (!this.host.closed && this.checkpointer === undefined && this.checkpointerUsers === 0) {
        // Read off the chain first: while the WAL has not restarted there is nothing to cut,
        // and taking the chain would only commit the writer's group early.
        const e = walExtent(this.o.path);
        if (e === undefined || e.size <= WAL_KEEP_BYTES) return;
        const r = e.size <= trimFloor(e, WAL_KEEP_BYTES) ? "wait" : await this.host.serial("checkpoint", () => {
          this.host.db.commitGroup();
          return trimWalStep(this.o.path, WAL_KEEP_BYTES, WAL_TRIM_STEP_BYTES);
        });
        if (r === "done") return;
        if (r === "more") await this.yieldToOthers();
        else if (++waits > WAL_TRIM_WAITS) return;
        else await new Promise<void>((res) => this.o.timers.setTimeout(res, WAL_TRIM_WAIT_MS));
      }
    })()
      .catch(() => undefined)
      .finally(() => (this.trimming = undefined));
    return this.trimming;
  }

  /** Lets timers, sockets and queued apply batches run before the next background batch. */
  private yieldToOthers(): Promise<void> {
    return new Promise<void>((r) => this.o.timers.setImmediate(r));
  }

  async defragment(): Promise<void> {
    // Every free page goes back, in bounded batches between apply batches (never one
    // whole-database step), then the WAL is checkpointed into the file and truncated. The
    // answer waits for that at most DEFRAG_WAIT_MS, so etcdctl's 5 s default timeout never
    // reports a defrag as failed; past it the reclamation goes on between apply batches and
    // endpoint status shows dbSize falling (docs/design-notes.md).
    const done = (async () => {
      // A copy on the side gives back every free page (when it pays); in place otherwise.
      await this.reclaim(0);
      if (this.switched && this.freePages === 0) return; // the new file has no WAL to fold in
      await this.background(async () => {
        await this.reclaim(0);
        const cp = this.checkpointer;
        if (cp !== undefined) {
          // The checkpointer copies the WAL into the file (which shrinks to its pages then); the
          // next write restarts the WAL and trimWal cuts it back. No fsync on this thread.
          await cp.caughtUp(0);
          await this.host.serial("checkpoint", () => this.refreshSizes());
          return;
        }
        await this.host.serial("checkpoint", async () => {
          await this.host.db.executeMultiple("PRAGMA wal_checkpoint(TRUNCATE);");
          await this.refreshSizes();
        });
      });
    })();
    let timer: unknown;
    const late = new Promise<void>((r) => (timer = this.o.timers.setTimeout(r, DEFRAG_WAIT_MS)));
    try {
      await Promise.race([done, late]);
    } finally {
      this.o.timers.clearTimeout(timer);
    }
  }

  /** Waits for the background batches to stop (the host is closing: they stop between batches). */
  async settle(): Promise<void> {
    await this.compacting?.catch(() => undefined);
    await this.reclaiming?.catch(() => undefined);
    await this.trimming;
  }

  /**
   * Stops the checkpointer thread, after the host's last write: its connection closes first, so
   * the host's, closing last, checkpoints what is left and removes the WAL.
   */
  async close(): Promise<void> {
    await this.checkpointerLife;
    await this.stopCheckpointer();
  }
}

/**
 * Descriptors this process has open on the state file's WAL (the writer's is one; a connection
 * closed but not finalized holds another). 0 without /proc: the switch checks for itself.
 */
function walDescriptors(path: string): number {
  const wal = `${realPath(path)}-wal`;
  return (walDescriptorTargets(path) ?? []).filter((t) => t === wal).length;
}

/** The next batch size: doubled while a batch takes under half the target, halved above it. */
function adapt(size: number, ms: number, max: number): number {
  if (ms > STEP_TARGET_MS) return Math.max(1, Math.floor(size / 2));
  if (ms < STEP_TARGET_MS / 2) return Math.min(max, size * 2);
  return size;
}
