// The process figures Prometheus' Go process collector exports for etcd (process_* families),
// read from /proc/self when /metrics is scraped: a few small files, no per-request cost.
import { readdirSync, readFileSync } from "node:fs";

export interface ProcessStats {
  cpuSeconds: number;
  openFds: number;
  maxFds: number;
  residentBytes: number;
  virtualBytes: number;
  virtualMaxBytes: number;
  startTimeSeconds: number;
}

/** procfs' USER_HZ, as the Go collector assumes it. */
const USER_HZ = 100;

let bootTime: number | undefined;

function readBootTime(): number {
  if (bootTime === undefined) {
    const m = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"));
    bootTime = m === null ? 0 : Number(m[1]);
  }
  return bootTime;
}

/** A limit of /proc/self/limits (soft); "unlimited" is Go's uint64 max as a float. */
function limit(text: string, name: string): number {
  const m = new RegExp(`^${name}\\s+(\\S+)`, "m").exec(text);
  if (m === null) return 0;
  return m[1] === "unlimited" ? 18446744073709551615 : Number(m[1]);
}

export function readProcessStats(): ProcessStats {
  const out: ProcessStats = {
    cpuSeconds: 0,
    openFds: 0,
    maxFds: 0,
    residentBytes: process.memoryUsage().rss,
    virtualBytes: 0,
    virtualMaxBytes: 0,
    startTimeSeconds: 0,
  };
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // f[0] is field 3 (state): utime is field 14, stime 15, starttime 22, vsize 23.
    out.cpuSeconds = (Number(f[11]) + Number(f[12])) / USER_HZ;
    out.startTimeSeconds = readBootTime() + Number(f[19]) / USER_HZ;
    out.virtualBytes = Number(f[20]);
    const limits = readFileSync("/proc/self/limits", "utf8");
    out.maxFds = limit(limits, "Max open files");
    out.virtualMaxBytes = limit(limits, "Max address space");
    out.openFds = readdirSync("/proc/self/fd").length;
  } catch {
    // Not Linux: only what the runtime reports.
  }
  return out;
}
