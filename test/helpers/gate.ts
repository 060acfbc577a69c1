// Lets load writers park while a member is down and resume once it is back (crash tests).
import { delay } from "./wait.ts";

export class Gate {
  private open = true;
  private waiters: (() => void)[] = [];

  close(): void {
    this.open = false;
  }

  release(): void {
    this.open = true;
    for (const w of this.waiters.splice(0)) w();
  }

  /** A short pause while open (a writer retrying), else until release(). */
  wait(): Promise<void> {
    return this.open ? delay(5) : new Promise((r) => this.waiters.push(r));
  }
}
