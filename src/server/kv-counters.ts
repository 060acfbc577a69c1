// etcd's mvcc operation counters (mvcc/metrics_txn.go): every range, put and delete a member's
// store runs, and the transactions with more than one of them. Kept outside the state machine
// so a machine reopened from a snapshot counts on from the same totals.
import { Counter } from "./prometheus.ts";

export class KvCounters {
  readonly range = new Counter();
  readonly put = new Counter();
  readonly delete = new Counter();
  readonly txn = new Counter();

  /** One store transaction's operations (etcd's metricsTxnWrite.End). */
  ended(ranges: number, puts: number, deletes: number): void {
    if (ranges + puts + deletes > 1) this.txn.value++;
    this.range.value += ranges;
    this.put.value += puts;
    this.delete.value += deletes;
  }
}
