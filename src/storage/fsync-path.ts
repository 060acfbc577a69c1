// A synchronous fsync of a file or directory by its path: a file before it is renamed into
// place, its directory after (so the rename itself survives a power loss).
import { closeSync, fsyncSync, openSync } from "node:fs";

/** Opens `path` ("r" for a directory, "r+" for a file), fsyncs it, closes it. */
export function fsyncPath(path: string, flags: "r" | "r+"): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
