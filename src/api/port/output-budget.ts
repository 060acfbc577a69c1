// A member-wide budget for output queued to clients that do not read: every connection is
// held to its own bound (the h2 engine's and the HTTP/1.1 exchange's output guards), and this
// bounds their sum. When the total is above the budget the connection holding the most is
// closed, then the next, until it is under. Checked on a timer: each connection's own hard
// cap bounds what can pile up between two checks.
import type { H2Clock } from "../h2/index.ts";

export interface BudgetMember {
  /** Octets queued for this client now. */
  readonly queuedBytes: number;
  /** Ends the connection. */
  abort(reason: string): void;
}

export class OutputBudget {
  private readonly members = new Set<BudgetMember>();
  private timer: unknown = undefined;
  /** Connections closed by the budget since start. */
  aborted = 0;

  constructor(
    private readonly budget: number,
    private readonly everyMs: number,
    private readonly clock: H2Clock,
  ) {
    this.arm();
  }

  add(m: BudgetMember): void {
    this.members.add(m);
  }

  delete(m: BudgetMember): void {
    this.members.delete(m);
  }

  /** Sums, and closes the largest holders while over the budget. */
  check(): void {
    let total = 0;
    const held: Array<[number, BudgetMember]> = [];
    for (const m of this.members) {
      const n = m.queuedBytes;
      if (n > 0) {
        total += n;
        held.push([n, m]);
      }
    }
    if (total <= this.budget) return;
    held.sort((a, b) => b[0] - a[0]);
    for (const [n, m] of held) {
      if (total <= this.budget) break;
      total -= n;
      this.members.delete(m);
      this.aborted++;
      m.abort(`member-wide output budget of ${this.budget} bytes exceeded`);
    }
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.timer = this.clock.setTimeout(() => {
      this.check();
      this.arm();
    }, this.everyMs);
  }
}
