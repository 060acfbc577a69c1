// What the discovery service keeps, independent of where: the embedded database
// (sqlite-store.ts) or a Conclave / etcd cluster's v3 keys (etcd-store.ts, for several
// service processes behind one load balancer). Indexes are the store's: a counter in the
// database, the cluster's revision in etcd; both only grow.

/** A registration under a token ("/<token>/<name>"), or the token's size node. */
export interface StoredNode {
  /** Machine name, or "_config/size". */
  readonly name: string;
  readonly value: string;
  readonly createdIndex: number;
  readonly modifiedIndex: number;
}

export interface TokenState {
  readonly token: string;
  readonly size: number;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly sizeNode: StoredNode;
  /** Registrations, ordered by createdIndex. */
  readonly nodes: readonly StoredNode[];
  /** The store's index when read (X-Etcd-Index). */
  readonly index: number;
}

/** A change, as a v2 watch reports it. `name` "" is the token directory itself. */
export interface StoreEvent {
  readonly action: "create" | "set" | "delete";
  readonly index: number;
  readonly name: string;
  readonly node?: StoredNode;
  readonly prevNode?: StoredNode;
  readonly dir?: boolean;
}

export type PutResult =
  | { readonly ok: true; readonly event: StoreEvent }
  | { readonly ok: false; readonly reason: "no-token" | "exists" | "missing" | "too-many"; readonly index: number };

export type DeleteResult = { readonly ok: true; readonly event: StoreEvent } | { readonly ok: false; readonly index: number };

export type WaitResult =
  | { readonly kind: "event"; readonly event: StoreEvent; readonly startIndex: number }
  | { readonly kind: "cleared"; readonly oldest: number; readonly index: number }
  | { readonly kind: "timeout" }
  | { readonly kind: "no-token"; readonly index: number };

export interface WaitRequest {
  readonly token: string;
  /** "" (the directory, recursive), a machine name, or "_config/size". */
  readonly name: string;
  readonly recursive: boolean;
  /** First index of interest (v2 waitIndex); undefined = the next change. */
  readonly fromIndex?: number;
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
}

export interface TokenStore {
  /** Creates a token of `size`; false if it exists already (a 128-bit collision). */
  createToken(token: string, size: number, now: number): Promise<boolean>;
  /** The token with its registrations, or undefined when unknown or expired. */
  getToken(token: string, now: number): Promise<TokenState | undefined>;
  /**
   * Registers or replaces a machine. "create" fails with `exists`; "update" with `missing`;
   * "set" does either. At most `maxNodes` machines per token (`too-many`).
   */
  putMachine(token: string, name: string, value: string, mode: "create" | "update" | "set", now: number, maxNodes: number): Promise<PutResult>;
  deleteMachine(token: string, name: string, now: number): Promise<DeleteResult>;
  /** Removes the token and everything under it. */
  deleteToken(token: string, now: number): Promise<DeleteResult>;
  /** The first matching change at or after `fromIndex`, waiting for one up to `timeoutMs`. */
  wait(r: WaitRequest, now: number): Promise<WaitResult>;
  /** Deletes tokens created before `olderThan` (ms); returns how many. */
  collect(olderThan: number): Promise<number>;
  /** The current index. */
  index(): Promise<number>;
  /** Number of live tokens (for /metrics), when cheap to know. */
  tokenCount(): Promise<number | undefined>;
  close(): Promise<void>;
}

/** Tokens expire `minAgeMs` after creation; an expired token reads as unknown until collected. */
export function expired(createdAt: number, now: number, minAgeMs: number): boolean {
  return now - createdAt >= minAgeMs;
}
