// A cap on the client port's open connections, so that no number of clients can take the
// member's last file descriptors (a member that cannot open a WAL segment must stop). At the
// cap a new connection takes the place of the least useful one: the longest-waiting connection
// that has not yet completed a request (a slow or silent client), else the longest-idle one;
// when every connection is in use, the new one is refused.

export type ConnState = "new" | "idle" | "busy";

export interface GateEntry {
  readonly state: ConnState;
}

interface Entry extends GateEntry {
  state: ConnState;
  readonly close: () => void;
}

export class ConnectionGate {
  // Sets keep insertion order: the first entry of each is the one waiting longest in that state.
  private readonly byState: Record<ConnState, Set<Entry>> = { new: new Set(), idle: new Set(), busy: new Set() };
  /** Connections evicted or refused at the cap since start. */
  evicted = 0;
  refused = 0;

  constructor(readonly max: number) {
    if (!(max >= 1)) throw new RangeError("connection cap must be at least 1");
  }

  get size(): number {
    return this.byState.new.size + this.byState.idle.size + this.byState.busy.size;
  }

  /** Admits a connection (state "new"); null when at the cap and nothing could be evicted. */
  admit(close: () => void): GateEntry | null {
    if (this.size >= this.max) {
      const victim = first(this.byState.new) ?? first(this.byState.idle);
      if (victim === undefined) {
        this.refused++;
        return null;
      }
      this.release(victim);
      this.evicted++;
      victim.close();
    }
    const e: Entry = { state: "new", close };
    this.byState.new.add(e);
    return e;
  }

  /** Moves a connection to `state` (it becomes the newest in that state). */
  set(entry: GateEntry, state: ConnState): void {
    const e = entry as Entry;
    if (!this.byState[e.state].delete(e)) return; // released
    e.state = state;
    this.byState[state].add(e);
  }

  release(entry: GateEntry): void {
    const e = entry as Entry;
    this.byState[e.state].delete(e);
  }
}

function first<T>(s: Set<T>): T | undefined {
  for (const x of s) return x;
  return undefined;
}
