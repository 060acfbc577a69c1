// This process's open descriptors on a SQLite file's -wal and -shm, read from /proc/self/fd. A
// libsql connection closed but not yet finalized keeps them open, and when it is finalized it
// acts on "<file>-wal" by name: the side copy's switch must know of every one (see
// src/server/side-copy-switch.ts).
import { readdirSync, readlinkSync, realpathSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

/**
 * The targets of the descriptors on `path`'s -wal or -shm (a deleted file's ends in
 * " (deleted)"); undefined without /proc. The kernel names a descriptor's file by its real
 * path, so a data dir reached through a symbolic link is resolved first.
 */
export function walDescriptorTargets(path: string): string[] | undefined {
  let fds: string[];
  try {
    fds = readdirSync("/proc/self/fd");
  } catch {
    return undefined;
  }
  const real = realPath(path);
  const out: string[] = [];
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile (readdir's own descriptor)
    }
    if (target.startsWith(`${real}-wal`) || target.startsWith(`${real}-shm`)) out.push(target);
  }
  return out;
}

/** `path` with its directory's symbolic links resolved (the file itself may not exist). */
export function realPath(path: string): string {
  try {
    return join(realpathSync(dirname(path)), basename(path));
  } catch {
    return resolve(path);
  }
}
