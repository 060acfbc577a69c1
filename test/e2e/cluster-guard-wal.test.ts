// A damaged WAL on one member (killed with SIGKILL after every write was acknowledged):
//   - a flipped byte in the middle of a segment: the member refuses to start, "wal: crc mismatch";
//   - the last few written bytes cut (a torn final write): it starts, warns, and every
//     acknowledged write is there.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cpSync, readdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Cluster, isEtcd, makeTempDir, removeDir, withTimeout } from "../helpers/index.ts";

let cluster: Cluster | undefined;
const scratch = makeTempDir("e2e-guard-wal");
const c = (): Cluster => {
  if (!cluster) throw new Error("member did not start (see beforeAll failure)");
  return cluster;
};

// A value found by byte search in either server's WAL: the entry that carries it is in the
// middle of the log, with more records after it.
const MARK = `wal-guard-${"Q".repeat(2000)}-end`;
const KEYS = 40;

beforeAll(async () => {
  cluster = await Cluster.start({ size: 1 });
  const m = cluster.members[0]!;
  for (let i = 0; i < KEYS / 2; i++) await m.ctl.ok("put", `wal/${i}`, `v${i}`);
  await m.ctl.ok("put", "wal/marked", MARK);
  for (let i = KEYS / 2; i < KEYS; i++) await m.ctl.ok("put", `wal/${i}`, `v${i}`);
  await m.kill();
  cpSync(m.dataDir, join(scratch, "pristine"), { recursive: true });
}, 60_000);
afterAll(async () => {
  await cluster?.cleanup();
  removeDir(scratch);
});

function walFiles(dataDir: string): string[] {
  const dir = join(dataDir, "member", "wal");
  return readdirSync(dir).filter((n) => n.endsWith(".wal")).sort().map((n) => join(dir, n));
}

function restorePristine(dataDir: string): void {
  removeDir(dataDir);
  cpSync(join(scratch, "pristine"), dataDir, { recursive: true });
}

test("a flipped byte in the middle of a WAL segment: the member refuses to start with wal: crc mismatch", async () => {
  const m = c().members[0]!;
  restorePristine(m.dataDir);
  const hit = walFiles(m.dataDir)
    .map((f) => ({ f, at: readFileSync(f).indexOf(Buffer.from(MARK)) }))
    .find((x) => x.at >= 0);
  expect(hit).toBeDefined();
  const bytes = readFileSync(hit!.f);
  const at = hit!.at + MARK.length / 2;
  expect(at).toBeLessThan(bytes.length - 1000); // records follow the damaged one
  bytes[at] = bytes[at]! ^ 0x20; // 'Q' -> 'q'
  writeFileSync(hit!.f, bytes);

  m.spawn();
  const exit = await withTimeout(m.process.exited, 20_000, `member with a corrupt WAL exits\n${m.logTail()}`);
  const lines = m.process.stderrLines.filter((l) => /crc mismatch/.test(l));
  console.log(`corrupt WAL: exit ${exit.code}: ${lines.join(" | ").slice(0, 300)}`);
  expect(exit.code).not.toBe(0);
  expect(lines.length).toBeGreaterThan(0);
  // etcd 3.4 reports a bad entry record with walpb's text ("walpb: crc mismatch", its
  // "wal: crc mismatch" is for the crc records); ours says where: file and offset.
  if (isEtcd()) expect(lines[0]).toContain("walpb: crc mismatch");
  else expect(lines[0]).toMatch(/^conclave: wal: crc mismatch in \S+\.wal at offset \d+$/);
}, 30_000);

test("the last written bytes of the WAL cut: the member starts, warns, and every acknowledged write is there", async () => {
  const m = c().members[0]!;
  restorePristine(m.dataDir);
  const files = walFiles(m.dataDir);
  const last = files[files.length - 1]!;
  const bytes = readFileSync(last);
  // etcd preallocates its segments (zeros after the records): cut inside the written part.
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  truncateSync(last, end - 3);

  await m.start();
  const warned = m.process.stderrLines.filter((l) => (isEtcd() ? /repair/i : /torn tail/).test(l));
  console.log(`torn WAL tail: ${warned.join(" | ").slice(0, 400)}`);
  expect(warned.length).toBeGreaterThan(0);
  const got = await m.localRange("wal/");
  for (let i = 0; i < KEYS; i++) expect(got.kvs.get(`wal/${i}`)?.value).toBe(`v${i}`);
  expect(got.kvs.get("wal/marked")?.value).toBe(MARK);
  // And it keeps working.
  await m.ctl.ok("put", "wal/after", "x");
  expect((await m.localRange("wal/after")).kvs.get("wal/after")?.value).toBe("x");
}, 30_000);

// A cut that takes whole records, not just the last few bytes: the state file had applied (and
// committed) entries that the log no longer holds, as after a disk that acknowledged a write it
// then lost. The member must start, keep every write the state holds, and serve later writes:
// new entries must not reuse the lost indexes (they were skipped as "already applied", and the
// member exited on the first write). etcd 3.4 skips such entries and lets the requests time
// out, so this case runs on Conclave only.
test.skipIf(isEtcd())("the WAL cut back by many records: the member serves every later write", async () => {
  const m = c().members[0]!;
  if (m.running) await m.kill();
  restorePristine(m.dataDir);
  const files = walFiles(m.dataDir);
  const last = files[files.length - 1]!;
  const bytes = readFileSync(last);
  // Cut inside the record of the marked put: it and the 20 puts after it leave the log.
  const at = bytes.indexOf(Buffer.from(MARK));
  expect(at).toBeGreaterThan(0);
  truncateSync(last, at + 10);

  await m.start();
  // The state file was ahead of what the log kept (else this case tests nothing).
  expect(m.process.stderrLines.filter((l) => /the log lost its tail/.test(l)).length).toBe(1);
  for (let i = 0; i < 30; i++) await m.ctl.ok("put", `wal/cut/${i}`, `c${i}`);
  const got = await m.localRange("wal/");
  for (let i = 0; i < KEYS / 2; i++) expect(got.kvs.get(`wal/${i}`)?.value).toBe(`v${i}`);
  for (let i = 0; i < 30; i++) expect(got.kvs.get(`wal/cut/${i}`)?.value).toBe(`c${i}`);
  // Revisions keep rising from what the state held: nothing was applied twice or skipped.
  const revs = [...got.kvs.entries()].filter(([k]) => k.startsWith("wal/cut/")).map(([, v]) => v.modRevision);
  expect(new Set(revs).size).toBe(30);
  expect(m.running).toBe(true);
  // And after another restart the same data is there.
  await m.kill();
  await m.start();
  const again = await m.localRange("wal/cut/");
  expect(again.kvs.size).toBe(30);
}, 60_000);
