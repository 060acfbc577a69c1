// A small seeded PRNG (mulberry32): the simulator's only source of randomness.

import { mulberry32 } from "../helpers/rng.ts";

export type Rng = () => number;

/** The shared mulberry32 (test/helpers/rng.ts). */
export const prng: (seed: number) => Rng = mulberry32;

export function intn(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

export function pick<T>(rng: Rng, xs: readonly T[]): T {
  if (xs.length === 0) throw new Error("pick from empty list");
  return xs[intn(rng, xs.length)]!;
}

export function chance(rng: Rng, p: number): boolean {
  return rng() < p;
}
