// etcd's JWT tokens (auth/jwt.go) on jose: header {"alg":<sign-method>,"typ":"JWT"}, claims
// exactly {username, revision, exp}. Stateless: valid on every member and across restarts,
// until exp. A verified token is remembered (bounded) so a client sending it with every
// request costs a map lookup, not a signature check, each time; exp is checked on every use.
import { jwtVerify, SignJWT, type CryptoKey, type KeyObject } from "jose";
import { createPrivateKey, createPublicKey, createSecretKey, type KeyObject as NodeKeyObject } from "node:crypto";
import type { Identity } from "./store.ts";

/** How many verified tokens are remembered. */
const CACHE_LIMIT = 10_000;

export class JwtConfigError extends Error {
  override readonly name = "JwtConfigError";
}

export interface JwtOptions {
  /** golang-jwt's name: RS256/384/512, PS256/384/512, ES256/384/512, HS256/384/512. */
  readonly signMethod: string;
  /** PEM (RSA/EC keys); for HS* the private key file's bytes are the secret. */
  readonly publicKey?: Uint8Array;
  readonly privateKey?: Uint8Array;
  readonly ttlMs: number;
}

interface Verified {
  readonly id: Identity;
  /** exp in ms, or undefined when the token has none (etcd accepts it then). */
  readonly expMs: number | undefined;
}

export class JwtTokens {
  readonly verifyOnly: boolean;
  private readonly cache = new Map<string, Verified>();

  private constructor(
    private readonly alg: string,
    private readonly signKey: NodeKeyObject | undefined,
    private readonly verifyKey: NodeKeyObject,
    private readonly ttlMs: number,
    private readonly clock: () => number,
  ) {
    this.verifyOnly = signKey === undefined;
  }

  /** Loads the keys; throws etcd's errors ("auth: missing key data", …) for bad options. */
  static create(o: JwtOptions, clock: () => number): JwtTokens {
    const family = o.signMethod.slice(0, 2);
    if (family === "HS") {
      if (o.privateKey === undefined || o.privateKey.length === 0) throw new JwtConfigError("auth: missing key data");
      const k = createSecretKey(Buffer.from(o.privateKey));
      return new JwtTokens(o.signMethod, k, k, o.ttlMs, clock);
    }
    let priv: NodeKeyObject | undefined;
    let pub: NodeKeyObject | undefined;
    try {
      if (o.privateKey !== undefined && o.privateKey.length > 0) priv = createPrivateKey(Buffer.from(o.privateKey));
      if (o.publicKey !== undefined && o.publicKey.length > 0) pub = createPublicKey(Buffer.from(o.publicKey));
    } catch (err) {
      throw new JwtConfigError(`auth: cannot parse the ${o.signMethod} key: ${(err as Error).message}`);
    }
    if (priv === undefined && pub === undefined) throw new JwtConfigError("auth: missing key data");
    const want = family === "ES" ? "ec" : "rsa";
    for (const k of [priv, pub]) {
      if (k !== undefined && k.asymmetricKeyType !== want && !(want === "rsa" && k.asymmetricKeyType === "rsa-pss")) {
        throw new JwtConfigError(`auth: a ${k.asymmetricKeyType} key cannot sign ${o.signMethod}`);
      }
    }
    const derived = priv === undefined ? undefined : createPublicKey(priv);
    if (pub !== undefined && derived !== undefined && !sameKey(pub, derived)) throw new JwtConfigError("auth: public and private keys don't match");
    return new JwtTokens(o.signMethod, priv, pub ?? derived!, o.ttlMs, clock);
  }

  /** A token for `username` at auth revision `revision`, valid for the configured ttl. */
  async assign(username: string, revision: number): Promise<string> {
    if (this.signKey === undefined) throw new Error("verify-only");
    const exp = Math.floor((this.clock() + this.ttlMs) / 1000);
    return new SignJWT({ username, revision })
      .setProtectedHeader({ alg: this.alg, typ: "JWT" })
      .setExpirationTime(exp)
      .sign(this.signKey as unknown as KeyObject);
  }

  /**
   * The token's identity, undefined when it is invalid (bad signature, another key, another
   * algorithm, expired, malformed, wrong claim types). Synchronous for remembered tokens.
   */
  info(token: string): Identity | undefined | Promise<Identity | undefined> {
    const c = this.cache.get(token);
    if (c !== undefined) {
      if (c.expMs === undefined || this.clock() < c.expMs) return c.id;
      this.cache.delete(token);
      return undefined;
    }
    return this.verify(token);
  }

  private async verify(token: string): Promise<Identity | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.verifyKey as unknown as CryptoKey, {
        algorithms: [this.alg],
        currentDate: new Date(this.clock()),
      });
      const { username, revision, exp } = payload as { username?: unknown; revision?: unknown; exp?: unknown };
      if (typeof username !== "string" || typeof revision !== "number" || !Number.isFinite(revision) || revision < 0) return undefined;
      const v: Verified = { id: { username, revision: Math.floor(revision) }, expMs: typeof exp === "number" ? exp * 1000 : undefined };
      if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(token, v);
      return v.id;
    } catch {
      // Any failure (jose's verification errors, malformed input) means an invalid token.
      return undefined;
    }
  }
}

function sameKey(a: NodeKeyObject, b: NodeKeyObject): boolean {
  const x = a.export({ format: "jwk" });
  const y = b.export({ format: "jwk" });
  return JSON.stringify([x.n, x.e, x.x, x.y, x.crv]) === JSON.stringify([y.n, y.e, y.x, y.y, y.crv]);
}
