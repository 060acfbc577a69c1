// A progress bar (bytes or items, rate, ETA) on stderr when it is a terminal; silent otherwise.
import { err, isTTY } from "./io.ts";
import { humanizeBytes } from "./go-format.ts";

export class Progress {
  private readonly on: boolean;
  private readonly start = performance.now();
  private last = 0;
  private done = 0;

  constructor(private readonly label: string, private total: number | undefined, private readonly unit: "bytes" | "items" = "bytes", force?: boolean) {
    this.on = force ?? isTTY(2);
  }

  setTotal(n: number): void {
    this.total = n;
  }

  /** Sets the amount done so far (and the total when it is known only now). */
  update(done: number, total?: number): void {
    if (total !== undefined) this.total = total;
    this.add(done - this.done);
  }

  add(n: number): void {
    this.done += n;
    const now = performance.now();
    if (this.on && now - this.last > 100) {
      this.last = now;
      this.draw();
    }
  }

  private fmt(n: number): string {
    return this.unit === "bytes" ? humanizeBytes(n) : String(Math.round(n));
  }

  private draw(): void {
    const secs = Math.max(0.001, (performance.now() - this.start) / 1000);
    const rate = this.done / secs;
    let line = `${this.label} ${this.fmt(this.done)}`;
    if (this.total !== undefined && this.total > 0) {
      const frac = Math.min(1, this.done / this.total);
      const width = 30;
      const full = Math.round(frac * width);
      const eta = rate > 0 ? Math.max(0, (this.total - this.done) / rate) : 0;
      line = `${this.label} [${"=".repeat(full)}${full < width ? ">" : ""}${" ".repeat(Math.max(0, width - full - 1))}] ${Math.floor(frac * 100)}% ${this.fmt(this.done)}/${this.fmt(this.total)}`;
      line += ` ${this.fmt(rate)}/s ETA ${eta.toFixed(0)}s`;
    } else line += ` ${this.fmt(rate)}/s`;
    err(`\r\x1b[K${line}`);
  }

  finish(): void {
    if (!this.on) return;
    this.draw();
    err("\n");
  }
}
