// How long each step of the state machine's single-writer chain held it: an apply batch, a
// group commit, a compaction batch, a reclamation (incremental vacuum) batch, a checkpoint, a
// snapshot copy. Nothing else writes the state file while a step runs, and a step's SQLite work
// runs on the event loop, so this is how long writes (and everything else) waited behind it.
// A defragment by side copy (side-copy-switch.ts) holds the chain twice: "side-copy" while its
// thread takes its snapshot, "switch" while the copy replaces the file.
// Exported in /metrics as a Prometheus histogram with one series per step kind; the space
// reclamation test asserts on it that no step was a whole-database operation.

export type StepKind = "apply" | "commit" | "compact" | "reclaim" | "checkpoint" | "snapshot" | "side-copy" | "switch";

export const STEP_KINDS: readonly StepKind[] = ["apply", "commit", "compact", "reclaim", "checkpoint", "snapshot", "side-copy", "switch"];

/** Upper bounds of the buckets, seconds (etcd's backend histograms use the same doubling). */
export const STEP_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096,
];

export const STEP_METRIC = "etcd_debugging_server_apply_step_duration_seconds";

interface Series {
  readonly counts: number[]; // per bucket, not cumulative; the last one is +Inf
  sum: number;
  count: number;
}

export class StepDurations {
  private readonly series = new Map<StepKind, Series>();

  /** Milliseconds of a monotonic clock; injected so tests can drive it. */
  constructor(readonly now: () => number = () => performance.now()) {
    for (const k of STEP_KINDS) this.series.set(k, { counts: new Array<number>(STEP_BUCKETS.length + 1).fill(0), sum: 0, count: 0 });
  }

  observe(kind: StepKind, ms: number): void {
    const s = this.series.get(kind)!;
    const sec = ms / 1000;
    let i = 0;
    while (i < STEP_BUCKETS.length && sec > STEP_BUCKETS[i]!) i++;
    s.counts[i]!++;
    s.sum += sec;
    s.count++;
  }

  /** Prometheus text format. */
  render(): string {
    let out = `# HELP ${STEP_METRIC} How long each step of the apply loop (apply batch, commit, compaction or reclamation batch, checkpoint, snapshot copy, side copy start, switch) held it.\n`;
    out += `# TYPE ${STEP_METRIC} histogram\n`;
    for (const [kind, s] of this.series) {
      let cum = 0;
      for (let i = 0; i < STEP_BUCKETS.length; i++) {
        cum += s.counts[i]!;
        out += `${STEP_METRIC}_bucket{step="${kind}",le="${STEP_BUCKETS[i]}"} ${cum}\n`;
      }
      out += `${STEP_METRIC}_bucket{step="${kind}",le="+Inf"} ${s.count}\n`;
      out += `${STEP_METRIC}_sum{step="${kind}"} ${s.sum}\n`;
      out += `${STEP_METRIC}_count{step="${kind}"} ${s.count}\n`;
    }
    return out;
  }
}
