// The process's command line as it was started (Go's os.Args, which etcd's /debug/vars shows):
// /proc/self/cmdline on Linux keeps argv[0] as typed, which the runtime's process.argv does
// not (a compiled executable reports its embedded script path there).
import { readFileSync } from "node:fs";

export function processCmdline(read: (path: string) => string = (p) => readFileSync(p, "utf8")): string[] {
  try {
    const raw = read("/proc/self/cmdline");
    const args = raw.endsWith("\0") ? raw.slice(0, -1).split("\0") : raw.split("\0");
    if (args.length > 0 && args[0] !== "") return args;
  } catch {
    // not Linux, or /proc not mounted: fall through
  }
  return [process.argv0, ...process.argv.slice(2)];
}
