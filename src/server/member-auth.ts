// The member's auth: token providers, identity resolution and the permission checks the
// request pipeline asks for (AuthGate), over the auth store of the current state machine (a
// snapshot install replaces it; tokens live here and survive that).
import { JwtTokens, SimpleTokens, type AuthStore, type Identity } from "../auth/index.ts";
import { Errors } from "../rpctypes/index.ts";
import type { AuthGate, AuthInfo, Perm } from "./types.ts";

/** --auth-token: simple tokens, JWTs, or none at all (`--auth-token ""`). */
export type Tokens = { readonly kind: "simple"; readonly simple: SimpleTokens } | { readonly kind: "jwt"; readonly jwt: JwtTokens } | { readonly kind: "none" };

export interface MemberAuthDeps {
  /** The auth store of the state machine in use. */
  readonly store: () => AuthStore;
  readonly tokens: Tokens;
  readonly appliedIndex: () => number;
  /** Resolves once `index` is applied here; rejects after `ms` or when `signal` aborts. */
  readonly waitApplied: (index: number, ms: number, signal?: AbortSignal) => Promise<void>;
  /** How long a request may wait for its simple token's entry (the request timeout). */
  readonly waitMs: number;
}

export class MemberAuth implements AuthGate {
  constructor(private readonly d: MemberAuthDeps) {}

  get tokens(): Tokens {
    return this.d.tokens;
  }

  enabled(): boolean {
    return this.d.store().enabled;
  }

  revision(): number {
    return this.d.store().revision;
  }

  identify(token: string | undefined, commonName: string | undefined, signal?: AbortSignal): AuthInfo | undefined | Promise<AuthInfo | undefined> {
    const st = this.d.store();
    if (!st.enabled) return undefined;
    if (token !== undefined) return this.fromToken(token, signal);
    // etcd's AuthInfoFromTLS: the CN names the user, at the current revision.
    if (commonName !== undefined) return { username: commonName, revision: st.revision };
    return undefined;
  }

  private fromToken(token: string, signal?: AbortSignal): Identity | Promise<Identity> {
    const t = this.d.tokens;
    switch (t.kind) {
      case "none":
        throw Errors.invalidAuthToken;
      case "jwt": {
        const r = t.jwt.info(token);
        if (r instanceof Promise) {
          return r.then((id) => {
            if (id === undefined) throw Errors.invalidAuthToken;
            return id;
          });
        }
        if (r === undefined) throw Errors.invalidAuthToken;
        return r;
      }
      case "simple": {
        // A known token needs no parsing (the common case: every request of a client).
        const known = t.simple.lookup(token);
        // A simple token carries no revision: it is checked at the store's current one.
        if (known !== undefined) return { username: known, revision: this.d.store().revision };
        const index = SimpleTokens.index(token);
        if (index === undefined) throw Errors.invalidAuthToken;
        const lookup = (): Identity => {
          const user = t.simple.lookup(token);
          if (user === undefined) throw Errors.invalidAuthToken;
          return { username: user, revision: this.d.store().revision };
        };
        if (index <= this.d.appliedIndex()) throw Errors.invalidAuthToken;
        // Issued by an entry this member has not applied yet (etcd waits for it too).
        return this.d.waitApplied(index, this.d.waitMs, signal).then(lookup, () => {
          throw Errors.invalidAuthToken;
        });
      }
    }
  }

  checkKeys(ai: AuthInfo | undefined, key: Uint8Array, end: Uint8Array, perm: Perm): void {
    this.d.store().checkKeys(ai, key, end, perm === "write");
  }

  checkAdmin(ai: AuthInfo | undefined): void {
    this.d.store().checkAdmin(ai);
  }

  checkUser(ai: AuthInfo | undefined): void {
    this.d.store().checkUser(ai);
  }

  hasRole(username: string, role: string): boolean {
    return this.d.store().hasRole(username, role);
  }

  /** Applied auth changes that concern tokens (every member sees them at the same entry). */
  userInvalidated(name: string): void {
    if (this.d.tokens.kind === "simple") this.d.tokens.simple.invalidateUser(name);
  }

  enabledChanged(enabled: boolean): void {
    if (!enabled && this.d.tokens.kind === "simple") this.d.tokens.simple.clear();
  }

  /**
   * The state machine was replaced by a snapshot from the leader and the auth revision moved:
   * users may have been deleted, passwords changed or auth disabled by entries this member
   * never applied, so no simple token it knows can be trusted. Clients authenticate again.
   * (JWTs carry their revision and are judged against the new store as they are.)
   */
  authReplaced(): void {
    if (this.d.tokens.kind === "simple") this.d.tokens.simple.clear();
  }

  tokenIssued(token: string, user: string): void {
    if (this.d.tokens.kind === "simple") this.d.tokens.simple.register(token, user);
  }

  stop(): void {
    if (this.d.tokens.kind === "simple") this.d.tokens.simple.stop();
  }
}
