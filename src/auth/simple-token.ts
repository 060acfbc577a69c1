// etcd's simple tokens (auth/simple_token.go): 16 random letters, ".", and the log index of the
// Authenticate entry that issued it, e.g. "qbfPjCXwPdABVMNQ.9075". Every member registers the
// token when it applies that entry, so it works on every member; it is never persisted (a
// restart forgets it). It expires after --auth-token-ttl seconds without use on that member.
import { randomInt } from "node:crypto";

const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const PREFIX_LENGTH = 16;
/** etcd's simpleTokenTTLResolution: expired tokens are dropped once a second. */
const REAP_MS = 1000;

export interface TokenTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(h: unknown): void;
}

export class SimpleTokens {
  private readonly tokens = new Map<string, { user: string; expires: number }>();
  private reaper: unknown;

  constructor(
    private readonly ttlMs: number,
    private readonly clock: () => number,
    private readonly timers: TokenTimers,
  ) {}

  /** The random part, chosen by the member that receives Authenticate. */
  static prefix(): string {
    let s = "";
    for (let i = 0; i < PREFIX_LENGTH; i++) s += LETTERS[randomInt(LETTERS.length)];
    return s;
  }

  /** The log index a token names, or undefined when it is not a simple token. */
  static index(token: string): number | undefined {
    const parts = token.split(".");
    if (parts.length !== 2 || !/^[0-9]{1,15}$/.test(parts[1]!)) return undefined;
    return Number(parts[1]);
  }

  static token(prefix: string, index: number): string {
    return `${prefix}.${index}`;
  }

  /** Registers a token issued at apply time (every member does). */
  register(token: string, user: string): void {
    this.tokens.set(token, { user, expires: this.clock() + this.ttlMs });
    this.startReaper();
  }

  /** The token's user; a successful lookup restarts its TTL (etcd's resetSimpleToken). */
  lookup(token: string): string | undefined {
    const t = this.tokens.get(token);
    if (t === undefined) return undefined;
    const now = this.clock();
    if (now > t.expires) {
      this.tokens.delete(token);
      return undefined;
    }
    t.expires = now + this.ttlMs;
    return t.user;
  }

  invalidateUser(user: string): void {
    for (const [tok, t] of this.tokens) if (t.user === user) this.tokens.delete(tok);
  }

  /** Auth disabled: every token is gone. */
  clear(): void {
    this.tokens.clear();
    this.stopReaper();
  }

  get size(): number {
    return this.tokens.size;
  }

  stop(): void {
    this.stopReaper();
  }

  private startReaper(): void {
    if (this.reaper !== undefined) return;
    this.reaper = this.timers.setInterval(() => this.reap(), REAP_MS);
    (this.reaper as { unref?: () => void }).unref?.();
  }

  private stopReaper(): void {
    if (this.reaper !== undefined) this.timers.clearInterval(this.reaper);
    this.reaper = undefined;
  }

  private reap(): void {
    const now = this.clock();
    for (const [tok, t] of this.tokens) if (now > t.expires) this.tokens.delete(tok);
    if (this.tokens.size === 0) this.stopReaper();
  }
}
