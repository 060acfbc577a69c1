// Deliberately broken variants of the Raft core and of the member ("mutants"), used only to
// prove that the simulators and the scripted tests would notice each kind of safety bug. Each
// mutant replaces one method on a prototype; production code has no switch for any of this.
// The Raft-core mutants are hunted by the core simulator (run-seed.ts), the member mutants by
// the member simulator on the real server code (member/run-member-seed.ts).
//
//   MUTANT=<name> node_modules/.bin/bun test test/sim   must fail, printing the failing seed.
//
// The patched methods are looked up by name: if a refactor renames one, install() throws
// instead of silently testing the unbroken core.

import type { Message, Ready } from "../../src/raft/index.ts";
import { Raft } from "../../src/raft/raft.ts";
import { RaftLog } from "../../src/raft/raft-log.ts";
import { Lessor } from "../../src/lease/lessor.ts";
import { RaftLoop } from "../../src/server/raft-loop.ts";
import { LeaseOps, type LeaseOpsDeps } from "../../src/server/lease-ops.ts";
import { Errors } from "../../src/rpctypes/index.ts";

/** Prototype methods reached around their TypeScript visibility. */
type Patchable = Record<string, unknown>;

interface Mutant {
  /** What is broken, in terms of the Raft thesis. */
  readonly breaks: string;
  /** Which simulator hunts it: the Raft core's, or the member's (real server code). */
  readonly sim: "core" | "member";
  readonly target: Patchable;
  readonly method: string;
  /** The replacement, given the original method. */
  readonly patch: (orig: (...args: never[]) => unknown) => (...args: never[]) => unknown;
}

export const mutants = {
  /** Counts replicas of entries from earlier terms toward commitment (§3.6.2, Figure 3.7). */
  "commit-old-term": {
    sim: "core",
    breaks: "leader commits entries of earlier terms by counting replicas",
    target: RaftLog.prototype as unknown as Patchable,
    method: "maybeCommit",
    patch: () =>
      function (this: RaftLog, maxIndex: number): boolean {
        if (maxIndex <= this.committed) return false;
        this.commitTo(maxIndex);
        return true;
      } as (...args: never[]) => unknown,
  },
  /** Answers ReadIndex with the commit index at once, skipping the heartbeat quorum (§6.4 step 3). */
  "read-without-quorum": {
    sim: "core",
    breaks: "leader serves ReadIndex without confirming it is still leader",
    target: Raft.prototype as unknown as Patchable,
    method: "sendReadIndexQuorumCheck",
    patch: () =>
      function (this: Raft, m: Message): void {
        (this as unknown as { respondToReadIndex(req: Message, index: number): void }).respondToReadIndex(m, this.raftLog.committed);
      } as (...args: never[]) => unknown,
  },
  /** Grants votes without the candidate-log up-to-date check (§3.6.1, election restriction). */
  "vote-without-log-check": {
    sim: "core",
    breaks: "voters grant votes to candidates with stale logs",
    target: RaftLog.prototype as unknown as Patchable,
    method: "isUpToDate",
    patch: () => (() => true) as (...args: never[]) => unknown,
  },
  /** A follower treats every appended entry as committed and applies it (§3.5). */
  "apply-uncommitted": {
    sim: "core",
    breaks: "followers apply entries beyond the leader's commit index",
    target: RaftLog.prototype as unknown as Patchable,
    method: "maybeAppend",
    patch: (orig) =>
      function (this: RaftLog, index: number, logTerm: number, _committed: number, ents: readonly unknown[]): number | undefined {
        // Pass the last new index as the leader's commit: everything received gets applied.
        return (orig as unknown as (this: RaftLog, ...a: unknown[]) => number | undefined).call(this, index, logTerm, index + ents.length, ents);
      } as (...args: never[]) => unknown,
  },
  /**
   * The member's Ready loop hands the batch to the log and goes on without waiting for it to be
   * durable: votes, acknowledgements and applied answers may then rest on entries a power loss
   * takes away (thesis §3.8: persist before responding).
   */
  "apply-before-durable": {
    sim: "member",
    breaks: "the raft loop applies and acknowledges entries before the log made them durable",
    target: RaftLoop.prototype as unknown as Patchable,
    method: "persist",
    patch: () =>
      function (this: { o: { log: { applySnapshot(s: unknown): void; append(e: unknown): void; setHardState(h: unknown): void; sync(): Promise<void> } } }, rd: Ready): Promise<void> {
        const log = this.o.log;
        if (rd.snapshot) log.applySnapshot(rd.snapshot);
        if (rd.entries.length > 0) log.append(rd.entries);
        if (rd.hardState) log.setHardState(rd.hardState);
        void log.sync().catch(() => {});
        return Promise.resolve();
      } as (...args: never[]) => unknown,
  },
  /** The leader never finds an expired lease: keys under a lapsed lease live on. */
  "lease-never-expires": {
    sim: "member",
    breaks: "leases nobody keeps alive never expire",
    target: Lessor.prototype as unknown as Patchable,
    method: "expired",
    patch: () => (() => []) as (...args: never[]) => unknown,
  },
  /** The leader revokes leases 1.5 s before their deadline. */
  "lease-expires-early": {
    sim: "member",
    breaks: "leases expire before their TTL has run out",
    target: Lessor.prototype as unknown as Patchable,
    method: "expired",
    patch: (orig) =>
      function (this: Lessor, now: number, limit: number): bigint[] {
        return (orig as unknown as (this: Lessor, n: number, l: number) => bigint[]).call(this, now + 1500, limit);
      } as (...args: never[]) => unknown,
  },
  /** The leader answers a keepalive with the lease's TTL without renewing it. */
  "lease-keepalive-ignored": {
    sim: "member",
    breaks: "keepalives are acknowledged without extending the lease",
    target: LeaseOps.prototype as unknown as Patchable,
    method: "renew",
    patch: () =>
      async function (this: LeaseOps, id: bigint): Promise<number> {
        const d = (this as unknown as { d: LeaseOpsDeps }).d;
        if (!d.loop.isLeader()) throw Errors.notLeader;
        const t = d.loop.sm.leaseTimeToLive({ $typeName: "etcdserverpb.LeaseTimeToLiveRequest", ID: id, keys: false });
        return t.TTL > 0n ? Number(t.grantedTTL) : 0;
      } as (...args: never[]) => unknown,
  },
} as const satisfies Record<string, Mutant>;

export type MutantName = keyof typeof mutants;

export function isMutantName(s: string): s is MutantName {
  return Object.hasOwn(mutants, s);
}

/** Installs a mutant; returns the function that removes it. */
export function install(name: MutantName): () => void {
  const m: Mutant = mutants[name];
  const orig = m.target[m.method];
  if (typeof orig !== "function") throw new Error(`mutant ${name}: no method ${m.method} to patch`);
  m.target[m.method] = m.patch(orig as (...args: never[]) => unknown);
  return () => {
    m.target[m.method] = orig;
  };
}

/** Runs `f` with a mutant installed, always restoring the original method. */
export function withMutant<T>(name: MutantName, f: () => T): T {
  const restore = install(name);
  try {
    return f();
  } finally {
    restore();
  }
}

let fromEnv: MutantName | undefined;

/**
 * The mutant named by the MUTANT environment variable, installed once for the whole process
 * (every test file in the run sees the broken core).
 */
export function installFromEnv(): MutantName | undefined {
  const name = process.env.MUTANT;
  if (name === undefined || name === "") return undefined;
  if (!isMutantName(name)) throw new Error(`unknown MUTANT=${name}; known: ${Object.keys(mutants).join(", ")}`);
  if (fromEnv === undefined) {
    install(name);
    fromEnv = name;
  }
  return name;
}
