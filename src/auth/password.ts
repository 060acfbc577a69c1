// Password hashing and checking with bcrypt, as etcd does (golang.org/x/crypto/bcrypt), so user
// records move between etcd and Conclave in snapshots both ways. Go's rules are kept: a password
// longer than 72 bytes is refused when hashing (x/crypto since v0.19; etcd 3.4.45 ships v0.50)
// and only its first 72 bytes count when checking; an empty password is a password like any.
import bcrypt from "bcryptjs";
import { RawErrors } from "../rpctypes/index.ts";

/** bcrypt as the member runs it: the runtime may offer a faster one (src/runtime/bcrypt.ts). */
export interface PasswordHasher {
  /** A `$2a$`/`$2b$` hash at the given cost. */
  hash(password: string, cost: number): Promise<string>;
  /** True when `password` matches `hash`. */
  verify(password: string, hash: string): Promise<boolean>;
}

export const BCRYPT_MAX_BYTES = 72;

const enc = new TextEncoder();

/** Go's bcrypt.GenerateFromPassword refuses longer passwords: ErrPasswordTooLong. */
export function checkHashable(password: string): void {
  if (enc.encode(password).length > BCRYPT_MAX_BYTES) throw RawErrors.passwordTooLong;
}

/** bcrypt in plain JavaScript (bcryptjs): every runtime, every password (it reads at most 72
 * bytes, as Go does), async between rounds. */
export const portableHasher: PasswordHasher = {
  async hash(password, cost) {
    checkHashable(password);
    return bcrypt.hash(password, await bcrypt.genSalt(cost));
  },
  verify(password, hash) {
    return bcrypt.compare(password, hash).catch(() => false);
  },
};

/**
 * Checks passwords so that a wrong password costs the same whether or not the user exists:
 * an unknown user is checked against a hash of the same cost that nothing matches.
 */
export class PasswordChecker {
  private dummy: Promise<string> | undefined;

  constructor(
    private readonly hasher: PasswordHasher,
    private readonly cost: number,
  ) {}

  /** True only when `hash` is defined and matches. */
  async check(password: string, hash: string | undefined): Promise<boolean> {
    if (hash === undefined || hash === "") {
      this.dummy ??= this.hasher.hash(randomSecret(), this.cost);
      await this.hasher.verify(password, await this.dummy);
      return false;
    }
    return this.hasher.verify(password, hash);
  }
}

function randomSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64");
}
