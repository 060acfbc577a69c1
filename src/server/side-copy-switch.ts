// Defragmenting the state file by a copy made on the side and switched in (etcd's defrag writes
// its live data into a new file too). Giving free pages back in place (incremental_vacuum) moves
// every page behind a free one through the WAL and into the file again: at 500 MB with 67 MB
// live, ~450 MB written on the member's thread, whose writes the page cache's writeback then
// throttles (docs/benchmarks.md). Here the member's thread writes none of the bulk:
//
// 1. At a point P between apply batches (the writer's group committed; the chain held only
//    while the copy's thread opens its read transaction) the thread takes its snapshot of the
//    file and SqlDb starts recording every write statement committed after P.
// 2. The thread writes the live rows into `state.db.defrag` (rowids kept, indexes built after
//    the rows, synced), then replays the recorded statements onto it in batches while the
//    member goes on applying.
// 3. With the chain held (the one stall, step "switch"): the last recorded statements are
//    replayed, the copy's WAL folded in and the copy synced, then renamed to `state.db.switch`
//    (the decision; the copy's emptied WAL and index keep the copy's names: nothing opens them);
//    the writer's connection, the last one on the old file, leaves WAL mode (SQLite copies the
//    WAL into the old file and deletes -wal and -shm); the copy is renamed over the state file;
//    the writer opens the new file.
//
// Replayed statements give the same rows: no write reads rowids it did not select in the same
// statement, calls time or random functions, or returns rows (RETURNING); rowids are kept by
// the copy, so rows inserted later are numbered alike.
//
// Crash safety (SIGKILL or power loss at any point):
// - Before the decision the state file is the old one, with its own WAL, untouched by any of
//   this; a copy left behind is deleted at open (recoverSideCopy). The Raft log holds every
//   entry after the old file's durable applied index (nothing here moves durableIndex forward).
// - `state.db.switch` exists only once the copy holds everything the old file holds (the last
//   group was committed into the old file and replayed into the copy, nothing is written
//   between) and is synced, and the directory is synced after the rename: from then on the copy
//   is the state, and an open that finds it finishes the switch (deletes the old -wal and -shm,
//   renames it into place) before opening anything. So the old file needs no sync any more,
//   and the writer leaves WAL mode on it unsynced.
// - The danger is a state file whose -wal belongs to another file: SQLite would apply the old
//   WAL's frames to the new file (at the next open, or when a connection of the old file that
//   is still open closes and deletes "state.db-wal" by name). So the copy takes the name only
//   when neither state.db-wal nor state.db-shm exists and no descriptor of this process has one
//   open (walHandles; else the decision is undone, synced, and the old file stays), and an open
//   that finishes a switch deletes and syncs them away first. Other processes cannot have the
//   file open: the data dir is locked.
// - Past the decision, a failure stops the member (`fail`): the open that follows finishes the
//   switch.
import { existsSync, linkSync, promises as fsp, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { SqlDb } from "../storage/sql-db.ts";
import { fsyncPath } from "../storage/fsync-path.ts";
import { walDescriptorTargets } from "../storage/wal-descriptors.ts";
import { startSideCopy, type SideCopy } from "../runtime/side-copy.ts";

/** Recorded statements are replayed in batches of at most this many ... */
const REPLAY_BATCH = 2000;
/** ... until at most this many are left for the switch, which replays them with the chain held. */
const SWITCH_TAIL = 200;
/** The switch waits at most this long (ms) for readers of the file (snapshot streams) to close. */
const READERS_WAIT_MS = 60_000;
/** Replay rounds before the switch goes ahead whatever the tail (writes outpacing the replay). */
const MAX_REPLAY_ROUNDS = 1000;

export interface SideCopyHost {
  readonly db: SqlDb;
  /** The state file. */
  readonly path: string;
  /** Runs fn on the writer chain, as a step of this kind. */
  serial<T>(kind: "switch" | "side-copy", fn: () => T | Promise<T>): Promise<T>;
  /** PRAGMAs the writer's connection runs when it opens the new file. */
  readonly pragmas: readonly string[];
  /** The switch failed past its decision: the member must stop writing (its next open finishes it). */
  fail(e: unknown): void;
  /** True once the member is closing: the copy is abandoned. */
  readonly closed: boolean;
  /**
   * Called with the chain held, just before the writer's connection closes: false when another
   * connection is open on the state file (a snapshot's reader), which abandons the switch.
   */
  othersClosed(): boolean;
  /**
   * Resolves true when no other connection holds the state file open (readers closed, the WAL
   * checkpointer stopped), false after waiting a little while one still does (the switch
   * replays and asks again, up to READERS_WAIT_MS, then goes ahead and checks for itself).
   */
  readersGone(): Promise<boolean>;
}

export interface SideCopyResult {
  /** Whether the copy replaced the state file. */
  readonly switched: boolean;
  /** ms the thread took to copy the live rows. */
  readonly copyMs: number;
  /** Statements replayed before the switch, and in it. */
  readonly replayed: number;
  readonly tail: number;
  /** ms the chain was held for the switch. */
  readonly holdMs: number;
  /** ms into the hold each part of it ended at. */
  readonly phases?: string;
  /** Why the switch did not happen. */
  readonly reason?: string;
}

/** The copy's file next to the state file. */
export function sideCopyPath(path: string): string {
  return `${path}.defrag`;
}

/** The copy once it is complete and synced: from then on it is the state (see above). */
function switchPath(path: string): string {
  return `${path}.switch`;
}

/**
 * Second names of the old file and of its WAL, given in the hold (retire) so that leaving WAL
 * mode and the rename over the old file only drop names: freeing a file's blocks and the page
 * cache holding them is paid where its last name goes (measured here: unlinking a 344 MB WAL
 * 110-140 ms, 121 of a 137 ms hold), and for the old file where its last descriptor closes (the
 * writer's old connection, finalized at some later garbage collection on the member's thread).
 * Neither name is one SQLite derives from a database's ("-wal", "-shm", "-journal").
 */
function retiredPaths(path: string): readonly [file: string, log: string] {
  return [`${path}.retired`, `${path}.retired-log`];
}

/** Links the old file and its WAL to their retired names (in the hold, past the decision). */
function retire(path: string): void {
  const [file, log] = retiredPaths(path);
  for (const [from, to] of [[path, file], [`${path}-wal`, log]] as const) {
    rmSync(to, { force: true });
    if (existsSync(from)) linkSync(from, to);
  }
}

/** Blocks a retired file's truncation frees per step, so no one journal commit grows large. */
const DROP_STEP_BYTES = 8 << 20;

/**
 * Deletes the retired names off the member's thread (node:fs promises run on the pool). A file
 * whose retired name is its last is cut down step by step first; one that still has another
 * name (a switch undone: the old file is the state again) only loses the retired one.
 */
async function dropRetired(path: string): Promise<void> {
  for (const p of retiredPaths(path)) {
    try {
      const fh = await fsp.open(p, "r+");
      try {
        const st = await fh.stat();
        if (st.nlink === 1) for (let size = st.size; size > 0; ) await fh.truncate((size = Math.max(0, size - DROP_STEP_BYTES)));
      } finally {
        await fh.close();
      }
      await fsp.unlink(p);
    } catch {
      // Absent (nothing was retired), or left for the next open to delete.
    }
  }
}

/** Deletes a copy a crash left behind (at open, before the state file is opened). */
export function removeLeftovers(path: string): void {
  const to = sideCopyPath(path);
  for (const s of ["", "-journal", "-wal", "-shm"]) rmSync(to + s, { force: true });
}

/** Deletes every copy, decided or not (a snapshot image is put in place of the state file). */
export function removeSideCopies(path: string): void {
  removeLeftovers(path);
  rmSync(switchPath(path), { force: true });
  for (const p of retiredPaths(path)) rmSync(p, { force: true });
}

/**
 * At open, before the state file is opened: a switch a crash interrupted after its decision is
 * finished (the old file's WAL and index deleted, the copy renamed into place); a copy left
 * before the decision is deleted. True when a switch was finished.
 */
export function recoverSideCopy(path: string): boolean {
  removeLeftovers(path);
  for (const p of retiredPaths(path)) rmSync(p, { force: true });
  const decided = switchPath(path);
  if (!existsSync(decided)) return false;
  rmSync(`${path}-wal`, { force: true });
  rmSync(`${path}-shm`, { force: true });
  syncDir(dirname(path)); // the old WAL is gone for good before the copy takes the name
  renameSync(decided, path);
  syncDir(dirname(path));
  return true;
}

export async function defragBySideCopy(host: SideCopyHost, now: () => number): Promise<SideCopyResult> {
  const to = sideCopyPath(host.path);
  removeLeftovers(host.path);
  let sc: SideCopy | undefined;
  let replayed = 0;
  let copyMs = 0;
  const phases: string[] = [];
  const abandon = async (reason: string): Promise<SideCopyResult> => {
    host.db.stopRecording();
    await sc?.stop().catch(() => undefined);
    removeLeftovers(host.path);
    return { switched: false, copyMs, replayed, tail: 0, holdMs: 0, reason };
  };
  try {
    sc = await startSideCopy();
    const copy = sc;
    await copy.open(host.path, to);
    // P: the writer's group committed, recording on, the snapshot taken before the next write.
    const started = await host.serial("side-copy", async () => {
      host.db.commitGroup();
      host.db.startRecording();
      return copy.start();
    });
    copyMs = await started.copied;
    phases.push(`copied ${now().toFixed(0)}`);
    await stopHere("replay"); // writes recorded meanwhile are replayed next
    const replayAll = async (): Promise<void> => {
      for (let round = 0; round < MAX_REPLAY_ROUNDS && host.db.recordedCount > SWITCH_TAIL && !host.closed; round++) {
        const next = host.db.takeRecorded();
        for (let i = 0; i < next.length; i += REPLAY_BATCH) {
          await copy.replay(next.slice(i, i + REPLAY_BATCH));
          replayed += Math.min(REPLAY_BATCH, next.length - i);
        }
      }
    };
    await replayAll();
    // Readers on the file would keep its WAL open: wait for them, catch up again, then the old
    // WAL is checkpointed on the thread (not by the writer, on the chain) and the thread's
    // connection to the file closed.
    phases.push(`replayed ${now().toFixed(0)}`);
    // A snapshot stream may read the file for a while: the writes go on being replayed meanwhile.
    const until = now() + READERS_WAIT_MS;
    while (!(await host.readersGone()) && now() < until && !host.closed) await replayAll();
    phases.push(`readers gone ${now().toFixed(0)}`);
    await replayAll();
    await copy.checkpoint();
    await replayAll();
    await copy.settle();
    await replayAll();
    phases.push(`settled ${now().toFixed(0)}`);
    if (host.closed) return await abandon("closing");
    let tail = 0;
    let reason: string | undefined;
    const holdMs = await host.serial("switch", async () => {
      const h0 = now();
      const phase = (name: string) => phases.push(`${name} ${(now() - h0).toFixed(1)}`);
      host.db.commitGroup();
      const last = host.db.takeRecorded();
      tail = last.length;
      host.db.stopRecording();
      // The copy's last statements, then its WAL folded in and emptied and the copy synced on
      // its thread (whose connection to it closes after the switch).
      let parts = "";
      const failed = await copy.finish(last).then(
        (f) => void (parts = ` (thread ${f.ms.toFixed(1)}: WAL folded in ${f.foldMs.toFixed(1)}, fsync ${f.syncMs.toFixed(1)})`),
        (e: unknown) => String(e),
      );
      phase(`copy-synced${parts}`);
      if (failed !== undefined || (existsSync(`${to}-wal`) && statSync(`${to}-wal`).size > 0) || !host.othersClosed()) {
        reason = failed ?? "another connection holds the state file";
        return now() - h0;
      }
      // From this rename on, the copy is the state (see the file's comment): the old file's
      // WAL needs no sync any more, and a crash from here on finishes the switch at open.
      const dir = dirname(host.path);
      renameSync(to, switchPath(host.path));
      // Past the decision, a step that throws leaves the copy decided on disk while this
      // connection may go on writing to the old file (or in it with synchronous=OFF): writes
      // the next open would drop with the old file. The member stops instead (see the file's
      // comment); its next open finishes the switch or finds it undone.
      try {
        syncDir(dir);
        phase("decided");
        stopHere("decided");
        retire(host.path);
        // Out of WAL mode: SQLite copies the last frames into the old file (not synced: the
        // file is done with) and deletes -wal and -shm, which it can only do when no other
        // connection has them open. The writer's connection may then close lazily (libsql
        // finalizes it with its statements, at a garbage collection): in rollback mode it
        // never touches the names.
        let mode: string;
        try {
          host.db.executeMultiple("PRAGMA synchronous=OFF");
          if (process.env.CONCLAVE_DEBUG_SIDE_COPY) phase(`wal ${statSync(`${host.path}-wal`).size} bytes`);
          mode = String(host.db.execute("PRAGMA journal_mode=DELETE").rows[0]?.[0] ?? "");
        } catch (e) {
          mode = String(e); // SQLITE_BUSY: another connection is open
        }
        phase("wal-out");
        const left = walHandles(host.path);
        if (mode !== "delete" || left !== undefined) {
          reason = mode !== "delete" ? `journal mode stayed ${mode}` : `${left} is still open or present`;
          // Back to the old file, for good. Out of WAL mode, its last frames were copied into
          // it unsynced and its WAL deleted: synced now, before the decision is undone, or a
          // power loss would leave it torn with no WAL and no copy.
          if (mode === "delete") fsyncPath(host.path, "r+");
          rmSync(switchPath(host.path), { force: true });
          syncDir(dir);
          host.db.executeMultiple(`PRAGMA journal_mode=WAL; ${host.pragmas.filter((p) => /synchronous/i.test(p)).join("; ")};`);
          return now() - h0;
        }
        stopHere("wal-out");
        host.db.reopen(host.pragmas, () => {
          renameSync(switchPath(host.path), host.path);
          syncDir(dir);
          phase("renamed");
          stopHere("renamed");
          return true;
        });
      } catch (e) {
        host.fail(e);
        throw e;
      }
      phase("reopened");
      return now() - h0;
    });
    // The old file and its WAL (or, switch undone, only second names) go on a pool thread.
    void dropRetired(host.path);
    if (reason !== undefined) return await abandon(reason);
    await sc.stop().catch(() => undefined);
    removeLeftovers(host.path); // the copy's emptied WAL and index, if its connection left them
    await stopHere("switched");
    return { switched: true, copyMs, replayed, tail, holdMs, phases: phases.join(", ") };
  } catch (e) {
    const r = await abandon(String(e));
    return r;
  }
}

/**
 * A reason the old file's WAL could come back to life beside the new file: -wal or -shm exists,
 * or a connection of this process (one closed but not yet finalized) still holds one open.
 * Undefined when there is none. Without /proc the open handles cannot be checked: never safe.
 */
function walHandles(path: string): string | undefined {
  for (const f of [`${path}-wal`, `${path}-shm`]) if (existsSync(f)) return f;
  const open = walDescriptorTargets(path);
  return open === undefined ? "/proc/self/fd" : open[0];
}

/**
 * Test hook, inert unless CONCLAVE_TEST_SIDE_COPY_STOP names this phase ("phase" or
 * "phase:ms"): says so on stderr and stops there (the crash test SIGKILLs the member there; with
 * ms, it goes on after that long). In the hold it must block synchronously; elsewhere `async`
 * waits instead, so the member keeps applying meanwhile.
 */
function stopHere(phase: string): Promise<void> | undefined {
  const [name, ms] = (process.env.CONCLAVE_TEST_SIDE_COPY_STOP ?? "").split(":");
  if (name !== phase) return undefined;
  writeSync(2, `side copy: at ${phase}\n`);
  const wait = ms === undefined ? 120_000 : Number(ms);
  if (phase === "replay" || phase === "switched") return new Promise<void>((r) => (ms === undefined ? undefined : setTimeout(r, wait)));
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
  return undefined;
}

function syncDir(dir: string): void {
  fsyncPath(dir, "r");
}
