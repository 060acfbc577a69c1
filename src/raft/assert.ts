// Invariant checks for the Raft core. A broken invariant means the member's state can no longer
// be trusted: throw, stop the member, recover from disk (DESIGN.md "Errors and bad input").

export class AssertionError extends Error {
  override readonly name = "AssertionError";
}

export function assert(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new AssertionError(typeof message === "string" ? message : message());
}

/** Raft indexes and terms are non-negative safe integers. */
export function assertIndex(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new AssertionError(`${what} is not a valid index/term: ${n}`);
}

/** Node IDs print as hex, like etcd's member IDs. */
export function hexId(id: bigint): string {
  return id.toString(16);
}
