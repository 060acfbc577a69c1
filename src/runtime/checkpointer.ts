// Starts the state file's WAL checkpointer on a worker thread (src/runtime/checkpoint-worker.ts;
// the interface is src/storage/checkpointer.ts). The compiled executable carries the worker as
// an entry point of its own (scripts/build.ts).
import { Worker } from "node:worker_threads";
import type { Checkpointer, CheckpointReport } from "../storage/checkpointer.ts";

interface WorkerMessage extends Partial<CheckpointReport> {
  opened?: boolean;
  stopped?: boolean;
  error?: string;
}

export async function startCheckpointer(path: string, warn: (msg: string) => void = () => {}): Promise<Checkpointer> {
  const worker = new Worker(workerUrl());
  worker.unref();
  let backlog = 0;
  let waiters: Array<{ frames: number; resolve: () => void }> = [];
  let stopped: (() => void) | undefined;
  let failed = false;
  const release = () => {
    const still: typeof waiters = [];
    for (const w of waiters) (failed || backlog <= w.frames ? w.resolve() : still.push(w));
    waiters = still;
  };
  await new Promise<void>((resolve, reject) => {
    worker.on("message", (m: WorkerMessage) => {
      if (m.opened) resolve();
      else if (m.stopped) stopped?.();
      else if (m.error !== undefined) warn(`state file checkpoint failed: ${m.error}`);
      else if (m.log !== undefined) {
        backlog = m.log - (m.checkpointed ?? 0);
        release();
      }
    });
    worker.once("error", (e) => {
      failed = true;
      release();
      reject(e);
    });
    worker.postMessage({ path });
  });
  return {
    get backlog() {
      return backlog;
    },
    caughtUp(frames: number): Promise<void> {
      if (failed || backlog <= frames) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ frames, resolve }));
    },
    stop(): Promise<void> {
      failed = true; // nobody waits on a stopped checkpointer
      release();
      return new Promise<void>((resolve) => {
        stopped = resolve;
        worker.once("exit", () => resolve());
        worker.postMessage({ stop: true });
      });
    },
  };
}

function workerUrl(): URL {
  // The compiled executable holds the worker as its own entry point: runtime/checkpoint-worker.js
  // under the bundle's root (entry points keep their paths below src/), where the chunks are.
  const compiled = process.env.CONCLAVE_BUILD === "compiled";
  return new URL(compiled ? "./runtime/checkpoint-worker.js" : "./checkpoint-worker.ts", import.meta.url);
}
