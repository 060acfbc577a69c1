// Seeded randomness for tests that pick random moments; the seed is printed so that a
// failure can be replayed with E2E_SEED=<seed>.

/** mulberry32: small, fast, good enough to spread kill moments. Returns [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function seedFromEnv(name = "E2E_SEED"): number {
  const v = process.env[name];
  if (v !== undefined && v !== "") {
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer`);
    return n;
  }
  return Date.now() % 2 ** 31;
}
