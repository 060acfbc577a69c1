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
const digest: string[] = [];

/**
 * Each failed test's own report (what bun printed between the previous result line and its
 * "(fail)" line), cut to its head and tail. Printed again just before the summary, so that a
 * log shown only by its end still says why a test failed, not only which one.
 */
function failureReports(out: string): string[] {
  const reports: string[] = [];
  let block: string[] = [];
  let file = "";
  for (const line of out.split("\n")) {
    if (/^\S.*\.(test|spec)\.[jt]sx?:$/.test(line)) {
      file = line.slice(0, -1);
      block = [];
    } else if (/^\((pass|skip|todo)\) /.test(line)) {
      block = [];
    } else if (line.startsWith("(fail) ")) {
      const body = block.length > 80 ? [...block.slice(0, 30), `  … ${block.length - 70} lines …`, ...block.slice(-40)] : block;
      reports.push([`${file}: ${line}`, ...body].join("\n"));
      block = [];
    } else {
      block.push(line);
    }
  }
  return reports;
}
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
  digest.push(...failureReports(out));
  passed += Number(/^\s*(\d+) pass$/m.exec(out)?.[1] ?? 0);
  failed += Number(/^\s*(\d+) fail$/m.exec(out)?.[1] ?? 0);
  if (r.status !== 0) code = r.status ?? 1;
}
if (passed + failed === 0) code = code || 1;
if (digest.length > 0) console.log(`\nWhy each failed test failed (bun's report, again):\n\n${digest.join("\n\n")}\n`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(code);
