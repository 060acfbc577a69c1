// Runs one restore in a process of its own and prints {"ms":…,"peakRssBytes":…} on success:
// the memory and crash tests measure or kill it. Argument: RestoreOptions as JSON.
//
// The peak is VmHWM of this process's own memory. getrusage's maxRSS is not: Linux carries the
// high-water mark of the memory a process replaced at exec into it, and a child spawned
// (vfork-style) from a large test runner would report the runner's peak.
import { readFileSync } from "node:fs";
import { fullCollector } from "../../src/runtime/heap-governor.ts";
import { restoreSnapshot, type RestoreOptions } from "../../src/snapshot/index.ts";

// As `conclave ctl snapshot restore` runs it: with the runtime's collector.
const opts = JSON.parse(process.argv[2]!) as RestoreOptions;
const t0 = performance.now();
await restoreSnapshot({ ...opts, collectGarbage: await fullCollector() });
const hwm = Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"))![1]) * 1024;
console.log(JSON.stringify({ ms: Math.round(performance.now() - t0), peakRssBytes: hwm }));
