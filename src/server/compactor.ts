// Auto compaction (etcd's v3compactor, --auto-compaction-mode/-retention). Only the leader
// compacts; a member that becomes leader starts with an empty window.
//   revision: every 5 minutes, keep the last `retention` revisions.
//   periodic: sample the revision every retention/10 and compact to the revision seen one
//             retention period ago (etcd's periodic compactor keeps the same window).

export interface CompactorDeps {
  isLeader(): boolean;
  revision(): number;
  compactRevision(): number;
  /** Compacts to `revision`, logging rather than throwing (a failed round is retried next time). */
  compact(revision: number): void;
  setInterval(fn: () => void, ms: number): unknown;
}

export interface AutoCompaction {
  mode: "periodic" | "revision";
  /** Revisions to keep (revision mode) or milliseconds of history (periodic mode). */
  retention: number;
}

/** Starts the compactor; returns its timer for the owner to clear at stop. */
export function startCompactor(ac: AutoCompaction, d: CompactorDeps): unknown {
  if (ac.mode === "revision") {
    return d.setInterval(() => {
      if (!d.isLeader()) return;
      const target = d.revision() - ac.retention;
      if (target > d.compactRevision() && target > 0) d.compact(target);
    }, 5 * 60_000);
  }
  const interval = Math.max(100, Math.floor(ac.retention / 10));
  const samples: number[] = [];
  return d.setInterval(() => {
    if (!d.isLeader()) {
      samples.length = 0;
      return;
    }
    samples.push(d.revision());
    if (samples.length > 10) {
      const target = samples.shift()!;
      if (target > d.compactRevision()) d.compact(target);
    }
  }, interval);
}
