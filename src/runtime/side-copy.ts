// Starts the side copy's thread (src/runtime/side-copy-worker.ts) and talks to it one request at
// a time. The compiled executable carries the worker as an entry point of its own
// (scripts/build.ts), as it does the checkpointer's.
import { Worker } from "node:worker_threads";
import type { SqlValue } from "../storage/sql-db.ts";

export interface ReplayStatement {
  readonly sql: string;
  readonly args: readonly SqlValue[];
}

interface Answer {
  opened?: boolean;
  snapshot?: number;
  copied?: boolean;
  replayed?: boolean;
  finished?: boolean;
  aborted?: boolean;
  log?: number;
  checkpointed?: number;
  ms?: number;
  /** finish: ms of it the copy's fsync took, and the checkpoint folding its WAL in. */
  syncMs?: number;
  foldMs?: number;
  error?: string;
}

export interface SideCopy {
  /** Opens the state file on the thread and creates the copy. */
  open(path: string, to: string): Promise<void>;
  /**
   * Begins the read transaction on the state file. Resolves with the applied index the
   * snapshot holds once it is taken (the caller holds the writer still until then); `copied`
   * resolves when the live data is in the copy (ms on the thread).
   */
  start(): Promise<{ snapshot: number; copied: Promise<number> }>;
  /**
   * A passive checkpoint of the state file's WAL on the thread, then the thread's connection to
   * it closed for good: [frames, frames copied].
   */
  checkpoint(): Promise<[number, number]>;
  /** Replays statements onto the copy in one transaction (ms on the thread). */
  replay(stmts: readonly ReplayStatement[]): Promise<number>;
  /** Folds the copy's WAL into it and syncs it (ms on the thread). */
  settle(): Promise<number>;
  /** Replays the last statements, closes both connections and syncs the copy (ms on the thread). */
  finish(stmts: readonly ReplayStatement[]): Promise<{ ms: number; foldMs: number; syncMs: number }>;
  /** Closes the connections and ends the thread (the caller deletes the copy). */
  stop(): Promise<void>;
}

export async function startSideCopy(): Promise<SideCopy> {
  const worker = new Worker(workerUrl());
  worker.unref();
  let pending: Array<(a: Answer) => void> = [];
  let dead: Error | undefined;
  // Loaded before the first request: the caller may hold the writer while it waits for one.
  pending.push(() => undefined);
  const ready = new Promise<Answer>((r) => (pending[0] = r));
  worker.on("message", (a: Answer) => pending.shift()?.(a));
  worker.on("error", (e) => {
    dead = e instanceof Error ? e : new Error(String(e));
    const all = pending;
    pending = [];
    for (const p of all) p({ error: dead.message });
  });
  worker.on("exit", () => {
    dead ??= new Error("side copy: thread exited");
    const all = pending;
    pending = [];
    for (const p of all) p({ error: dead.message });
  });
  const loaded = await ready;
  if (loaded.error !== undefined) throw new Error(`side copy: ${loaded.error}`);
  const ask = (msg: unknown, answers = 1): Promise<Answer>[] => {
    const out: Promise<Answer>[] = [];
    for (let i = 0; i < answers; i++) out.push(new Promise<Answer>((r) => pending.push(r)));
    if (dead !== undefined) for (const p of pending.splice(0)) p({ error: dead.message });
    else worker.postMessage(msg);
    return out;
  };
  const ok = async (p: Promise<Answer>): Promise<Answer> => {
    const a = await p;
    if (a.error !== undefined) throw new Error(`side copy: ${a.error}`);
    return a;
  };
  return {
    async open(path, to) {
      await ok(ask({ open: { path, to } })[0]!);
    },
    async start() {
      const [snap, done] = ask({ copy: true }, 2);
      const s = await ok(snap!);
      if (s.snapshot === undefined) throw new Error(`side copy: ${s.error ?? "no snapshot"}`);
      const copied = ok(done!).then((a) => a.ms ?? 0);
      copied.catch(() => undefined);
      return { snapshot: s.snapshot, copied };
    },
    async checkpoint() {
      const a = await ok(ask({ checkpoint: true })[0]!);
      return [a.log ?? 0, a.checkpointed ?? 0];
    },
    async replay(stmts) {
      return (await ok(ask({ replay: stmts })[0]!)).ms ?? 0;
    },
    async settle() {
      return (await ok(ask({ settle: true })[0]!)).ms ?? 0;
    },
    async finish(stmts) {
      const a = await ok(ask({ finish: stmts })[0]!);
      return { ms: a.ms ?? 0, foldMs: a.foldMs ?? 0, syncMs: a.syncMs ?? 0 };
    },
    async stop() {
      if (dead === undefined) await ask({ abort: true })[0]!;
      await worker.terminate();
    },
  };
}

function workerUrl(): URL {
  const compiled = process.env.CONCLAVE_BUILD === "compiled";
  return new URL(compiled ? "./runtime/side-copy-worker.js" : "./side-copy-worker.ts", import.meta.url);
}
