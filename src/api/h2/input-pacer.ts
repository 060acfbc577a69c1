// Fair reading for one connection. Input is handed on in slices, and a connection whose input
// has taken TURN_BUDGET_MS of one event-loop turn yields until the next turn, reading paused
// meanwhile. One process serves every connection, and a request needs several turns through
// raft: a flood of cheap frames that held the loop for 20-50 ms per read made every other
// client's put wait that long at each turn (puts took up to 1 s behind an HPACK bomb).
//
// A connection the server has found abusive (header lists refused again and again) is slowed
// rather than closed: after each chunk read from it, reading pauses for as long as the chunk
// takes at SLOW_OCTETS_PER_MS, so its client's own sends back up in TCP. Closing would only
// make the attacker reconnect, each new connection costing buffers again. The chunk itself is
// processed at once, as any other (in turns of at most SLOW_TURN_BUDGET_MS), and the pause
// comes after it: a chunk held across the pause would outlive the collector's young
// generation, and every such chunk (up to 512 KB each) would stay in memory until the next
// full collection.
//
// Reading also stops for other reasons (the output side's, when the client does not read its
// answers): each reason is a bit, and the socket reads while no bit is set.
import type { Socket } from "node:net";
import type { H2Clock } from "./limits.ts";

export const TURN_BUDGET_MS = 3;
/** A slowed connection's share of one turn: it is the one the loop is protected from. */
export const SLOW_TURN_BUDGET_MS = 1;
const INPUT_SLICE = 32 * 1024;
/** A slowed connection's input is processed at ~1 MB/s on average. */
export const SLOW_OCTETS_PER_MS = 1024;

/** Reasons to stop reading. */
export const Hold = { YIELDED: 1, OUTPUT: 2 } as const;

export class InputPacer {
  /** Input read but not yet processed (yielded), oldest first. */
  private backlog: Buffer[] = [];
  private holds = 0;
  stopped = false;
  /** Slowed: reading pauses after each chunk (see the top of this file). */
  slow = false;
  /** Octets processed while slowed and not yet paid for with a pause. */
  private owed = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * process: hands one slice on, with the clock reading taken for it; returns false when the
   * connection ended (nothing more is processed).
   */
  constructor(
    private readonly socket: Socket,
    private readonly clock: H2Clock,
    private readonly process: (slice: Buffer, now: number) => boolean,
  ) {}

  /** A chunk read from the socket. */
  push(chunk: Buffer): void {
    if (this.stopped) return;
    // Behind input not yet processed, or inside a pause: wait for its turn.
    if (this.backlog.length > 0 || (this.holds & Hold.YIELDED) !== 0) this.backlog.push(chunk);
    else if (this.run(chunk)) this.pace();
  }

  /** Sets or clears one reason to stop reading. */
  hold(bit: number, on: boolean): void {
    const before = this.holds;
    this.holds = on ? before | bit : before & ~bit;
    if (this.stopped) return;
    if (before === 0 && this.holds !== 0) this.socket.pause();
    else if (before !== 0 && this.holds === 0) this.socket.resume();
  }

  /** Processes a chunk until done (true) or until this turn's budget is spent (false: it yielded). */
  private run(chunk: Buffer): boolean {
    const t0 = this.clock.now();
    for (let off = 0; off < chunk.length && !this.stopped; ) {
      const end = Math.min(chunk.length, off + INPUT_SLICE);
      const now = this.clock.now();
      if (!this.process(off === 0 && end === chunk.length ? chunk : chunk.subarray(off, end), now)) {
        this.stopped = true;
        break;
      }
      if (this.slow) this.owed += end - off;
      off = end;
      if (off < chunk.length && now - t0 >= (this.slow ? SLOW_TURN_BUDGET_MS : TURN_BUDGET_MS)) {
        this.backlog.unshift(chunk.subarray(off));
        this.hold(Hold.YIELDED, true);
        setImmediate(this.resume);
        return false;
      }
    }
    return true;
  }

  /**
   * After a chunk: a slowed connection pays for what it sent with a pause (reading held, and
   * what was read meanwhile waits); true when there is none.
   */
  private pace(): boolean {
    if (this.owed === 0 || this.stopped) return true;
    const ms = Math.max(1, Math.round(this.owed / SLOW_OCTETS_PER_MS));
    this.owed = 0;
    this.hold(Hold.YIELDED, true);
    this.timer = setTimeout(this.wake, ms);
    return false;
  }

  private readonly wake = (): void => {
    this.timer = undefined;
    this.resume();
  };

  private readonly resume = (): void => {
    while (this.backlog.length > 0 && !this.stopped) {
      // A chunk that yields again puts its rest back in front and schedules the next turn.
      if (!this.run(this.backlog.shift()!)) return;
      if (!this.pace()) return;
    }
    this.backlog = [];
    this.hold(Hold.YIELDED, false);
  };

  /** Nothing more is processed; a pending pause is cancelled. */
  stop(): void {
    this.stopped = true;
    this.backlog = [];
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
