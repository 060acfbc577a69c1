// Shared helpers for the storage tests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Entry } from "../../src/raft/types.ts";

export function tempDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `conclave-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const enc = new TextEncoder();

export function entry(index: number, term: number, text = `v${index}t${term}`): Entry {
  return { index, term, type: 0, data: enc.encode(text) };
}

export function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

export function text(e: Entry): string {
  return new TextDecoder().decode(e.data);
}

/** Deterministic PRNG: the shared mulberry32 (test/helpers/rng.ts). */
export { mulberry32 as rng } from "../helpers/rng.ts";

/** The seed from the environment variable `name` if set (to explore), else the fixed default. */
export function seedFromEnv(name: string, fallback: number): number {
  const v = process.env[name];
  return v !== undefined && v !== "" ? Number(v) : fallback;
}
