// The process's limit on open file descriptors (RLIMIT_NOFILE, soft), read where the platform
// shows it: /proc/self/limits on Linux. Undefined elsewhere or when unreadable. Read after
// start, so a runtime that raises its own soft limit at start (Bun does) is accounted for.
import { readFileSync } from "node:fs";

export function openFilesLimit(read: (path: string) => string = (p) => readFileSync(p, "utf8")): number | undefined {
  let text: string;
  try {
    text = read("/proc/self/limits");
  } catch {
    return undefined;
  }
  const line = text.split("\n").find((l) => l.startsWith("Max open files"));
  const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
  if (soft === undefined) return undefined;
  if (soft === "unlimited") return Number.MAX_SAFE_INTEGER;
  const n = Number(soft);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
