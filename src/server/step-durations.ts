// How long each step of the state machine's single-writer chain held it: an apply batch, a
// group commit, a compaction batch, a reclamation (incremental vacuum) batch, a checkpoint, a
// snapshot copy. Nothing else writes the state file while a step runs, and a step's SQLite work
// runs on the event loop, so this is how long writes (and everything else) waited behind it.
// A defragment by side copy (side-copy-switch.ts) holds the chain twice: "side-copy" while its
// thread takes its snapshot, "switch" while the copy replaces the file.
// Exported in /metrics as a Prometheus histogram with one series per step kind; the space
// reclamation test asserts on it that no step was a whole-database operation.
import { Family, Histogram } from "./prometheus.ts";

export type StepKind = "apply" | "commit" | "compact" | "reclaim" | "checkpoint" | "snapshot" | "side-copy" | "switch";

export const STEP_KINDS: readonly StepKind[] = ["apply", "commit", "compact", "reclaim", "checkpoint", "snapshot", "side-copy", "switch"];

/** Upper bounds of the buckets, seconds (etcd's backend histograms use the same doubling). */
export const STEP_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096,
];

export const STEP_METRIC = "etcd_debugging_server_apply_step_duration_seconds";

export class StepDurations {
  readonly family = new Family(
    STEP_METRIC,
    "How long each step of the apply loop (apply batch, commit, compaction or reclamation batch, checkpoint, snapshot copy, side copy start, switch) held it.",
    "histogram",
    ["step"],
    () => new Histogram(STEP_BUCKETS),
  );
  private readonly series = new Map<StepKind, Histogram>();
  /** Also told of each step (seconds): etcd's backend commit and snapshot histograms. */
  onStep?: (kind: StepKind, sec: number) => void;

  /** Milliseconds of a monotonic clock; injected so tests can drive it. */
  constructor(readonly now: () => number = () => performance.now()) {
    for (const k of STEP_KINDS) this.series.set(k, this.family.with(k));
  }

  observe(kind: StepKind, ms: number): void {
    const sec = ms / 1000;
    this.series.get(kind)!.observe(sec);
    this.onStep?.(kind, sec);
  }

  /** Prometheus text format. */
  render(): string {
    return this.family.render();
  }
}
