// The one real effects object of the member (src/server/effects.ts describes it): the host's
// clock, randomness, timers and files, and the probe of the data dir's disk. main builds the
// member with these; the seeded simulator (test/sim) builds its own.
import { stat, statfs } from "node:fs/promises";
import { hostFiles, hostTimers, type MemberEffects } from "../server/effects.ts";
import type { DiskProbe } from "../server/disk-guard.ts";

export function realEffects(): MemberEffects {
  return { clock: () => Date.now(), rng: Math.random, timers: hostTimers, files: hostFiles };
}

/** Free space of the file system holding `dir`, and the dir's identity (dev:ino). */
export function hostDiskProbe(dir: string): DiskProbe {
  return {
    async freeBytes() {
      const s = await statfs(dir);
      return Number(s.bavail) * Number(s.bsize);
    },
    async identity() {
      const s = await stat(dir);
      return `${s.dev}:${s.ino}`;
    },
  };
}
