// A single-voter stand-in with the RawNode shape (tick/propose/readIndex/ready/advance), used
// until the replicated core drives the same loop. A lone voter is its own quorum: an entry is
// committed once it is durable locally, so committedEntries may include the entries of the same
// Ready — the loop persists them before it applies them (the etcd raft contract).
import { type Entry, EntryType, type HardState } from "../raft/types.ts";

export interface ReadState {
  readonly index: number;
  readonly ctx: number;
}

export interface NodeReady {
  readonly entries: Entry[];
  readonly hardState?: HardState;
  readonly committedEntries: Entry[];
  readonly readStates: ReadState[];
}

export interface ConsensusNode {
  readonly id: bigint;
  term(): number;
  leader(): bigint;
  commitIndex(): number;
  lastIndex(): number;
  propose(data: Uint8Array): void;
  readIndex(ctx: number): void;
  tick(): void;
  hasReady(): boolean;
  ready(): NodeReady;
  advance(rd: NodeReady): void;
}

export class SoloNode implements ConsensusNode {
  private hardState: HardState;
  private last: number;
  private unstable: Entry[] = [];
  private reads: ReadState[] = [];
  private hsDirty = false;
  private appliedUpTo: number;

  /**
   * @param persistedLast last index in the durable log
   * @param persistedTerm term of the durable log's last entry (0 if empty)
   * @param applied state machine's applied index: entries after it are replayed as committed
   */
  constructor(
    readonly id: bigint,
    persisted: HardState,
    persistedLast: number,
    private readonly entriesFrom: (lo: number, hi: number) => Entry[],
    applied: number,
  ) {
    this.last = persistedLast;
    // A restart starts a new term, as an election would, with an empty no-op entry.
    this.hardState = { term: persisted.term + 1, vote: id, commit: persistedLast };
    this.hsDirty = true;
    this.appliedUpTo = applied;
    this.propose(new Uint8Array(0));
  }

  term(): number {
    return this.hardState.term;
  }
  leader(): bigint {
    return this.id;
  }
  commitIndex(): number {
    return this.last;
  }
  lastIndex(): number {
    return this.last;
  }

  propose(data: Uint8Array): void {
    this.unstable.push({ term: this.hardState.term, index: ++this.last, type: EntryType.Normal, data });
    this.hardState = { ...this.hardState, commit: this.last };
    this.hsDirty = true;
  }

  readIndex(ctx: number): void {
    this.reads.push({ index: this.last, ctx });
  }

  tick(): void {}

  hasReady(): boolean {
    return this.unstable.length > 0 || this.reads.length > 0 || this.hsDirty || this.appliedUpTo < this.last;
  }

  ready(): NodeReady {
    const committedEntries =
      this.appliedUpTo < this.last - this.unstable.length
        ? [...this.entriesFrom(this.appliedUpTo + 1, this.last - this.unstable.length + 1), ...this.unstable]
        : this.unstable.filter((e) => e.index > this.appliedUpTo);
    // Copies: proposals arriving while this Ready is being persisted must not join it.
    return {
      entries: this.unstable.slice(),
      hardState: this.hsDirty ? this.hardState : undefined,
      committedEntries,
      readStates: this.reads.slice(),
    };
  }

  advance(rd: NodeReady): void {
    if (rd.entries.length > 0) this.unstable = this.unstable.slice(rd.entries.length);
    if (rd.readStates.length > 0) this.reads = this.reads.slice(rd.readStates.length);
    if (rd.hardState) this.hsDirty = false;
    const lastCommitted = rd.committedEntries.at(-1);
    if (lastCommitted) this.appliedUpTo = lastCommitted.index;
  }
}
