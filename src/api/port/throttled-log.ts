// Warnings about abusive clients, at most one line a second per message: an attacker that
// reconnects as fast as it is thrown out must not fill the log (or the disk under it). The
// next line written says how many were left out.
import type { Logger } from "../../server/logger.ts";

export class ThrottledLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly everyMs = 1000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  warn(message: string, fields: Record<string, unknown>): void {
    const t = this.now();
    const e = this.last.get(message);
    if (e !== undefined && t - e.at < this.everyMs) {
      e.suppressed++;
      return;
    }
    const suppressed = e?.suppressed ?? 0;
    this.last.set(message, { at: t, suppressed: 0 });
    this.logger.warn(message, suppressed > 0 ? { ...fields, "suppressed-since-last": suppressed } : fields);
  }
}
