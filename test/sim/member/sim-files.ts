// File effects for simulated members (src/server/effects.ts FileEffects): real files in the
// member's temp data dir, read and written synchronously so that no thread-pool callback can
// land at an unpredictable point of the schedule.
import { closeSync, fstatSync, openSync, readSync, renameSync, rmSync } from "node:fs";
import type { FileEffects } from "../../../src/server/effects.ts";

export const simFiles: FileEffects = {
  async openRead(path) {
    const fd = openSync(path, "r");
    return {
      size: fstatSync(fd).size,
      read: async (buf, position) => readSync(fd, buf, 0, buf.length, position),
      close: async () => closeSync(fd),
    };
  },
  async remove(path) {
    rmSync(path, { force: true });
  },
  async rename(from, to) {
    renameSync(from, to);
  },
  // Power loss is not simulated for the state file (only for the Raft log): nothing to sync.
  async syncDir() {},
};
