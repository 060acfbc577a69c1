// bcrypt on Bun's native implementation (Bun.password: a thread pool, ~2.5x faster than
// bcryptjs and off the event loop), within Go's rules: Bun pre-hashes passwords longer than 72
// bytes with SHA-512 (Go reads their first 72 bytes) and refuses empty ones, so those go to
// the portable implementation or are cut to 72 bytes first. Other runtimes use bcryptjs.
import { BCRYPT_MAX_BYTES, checkHashable, portableHasher, type PasswordHasher } from "../auth/index.ts";

interface BunPassword {
  hash(pw: string | Uint8Array, o: { algorithm: "bcrypt"; cost: number }): Promise<string>;
  verify(pw: string | Uint8Array, hash: string): Promise<boolean>;
}

const enc = new TextEncoder();

export function runtimeHasher(): PasswordHasher {
  const bun = (globalThis as { Bun?: { password?: BunPassword } }).Bun?.password;
  if (bun === undefined) return portableHasher;
  return {
    async hash(password, cost) {
      checkHashable(password);
      if (password === "") return portableHasher.hash(password, cost);
      return bun.hash(password, { algorithm: "bcrypt", cost });
    },
    async verify(password, hash) {
      const b = enc.encode(password);
      if (b.length === 0) return portableHasher.verify(password, hash);
      try {
        return await bun.verify(b.length > BCRYPT_MAX_BYTES ? b.subarray(0, BCRYPT_MAX_BYTES) : b, hash);
      } catch {
        return false; // not a bcrypt hash
      }
    },
  };
}
