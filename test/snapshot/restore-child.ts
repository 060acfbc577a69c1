// Runs one restore in a process of its own and prints {"ms":…,"maxRssBytes":…} on success:
// the memory and crash tests measure or kill it. Argument: RestoreOptions as JSON.
import { fullCollector } from "../../src/runtime/heap-governor.ts";
import { restoreSnapshot, type RestoreOptions } from "../../src/snapshot/index.ts";

// As `conclave ctl snapshot restore` runs it: with the runtime's collector.
const opts = JSON.parse(process.argv[2]!) as RestoreOptions;
const t0 = performance.now();
await restoreSnapshot({ ...opts, collectGarbage: await fullCollector() });
console.log(JSON.stringify({ ms: Math.round(performance.now() - t0), maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
