// Runs the whole suite with bun's test runner and ends with the plain closing line
// "N passed, N failed" that CI reads. Unit layers first, end-to-end last.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const args = process.argv.slice(2);
const groups = args.length > 0 ? [args] : [["test/"]];
let passed = 0;
let failed = 0;
let code = 0;
for (const g of groups) {
  const r = spawnSync(process.execPath, ["test", "--timeout", "120000", ...g], {
    cwd: root,
    stdio: ["ignore", "inherit", "pipe"],
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  // bun prints its report on stderr; pass it through and read its summary.
  process.stderr.write(r.stderr ?? "");
  const out = r.stderr ?? "";
  passed += Number(/^\s*(\d+) pass$/m.exec(out)?.[1] ?? 0);
  failed += Number(/^\s*(\d+) fail$/m.exec(out)?.[1] ?? 0);
  if (r.status !== 0) code = r.status ?? 1;
}
if (passed + failed === 0) code = code || 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(code);
