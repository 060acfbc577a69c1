// `conclave ctl defrag --data-dir` on a Conclave data dir: refused with one line while a member
// runs on it (etcdctl waits for the lock instead), then, with the member stopped, the state
// file gives its free pages back and the member restarts on it with every key. A dir without
// a state file gets one line (etcdctl panics). Conclave's data dir format only.
import { expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { runConclaveCtl } from "../helpers/conclave-ctl.ts";
import { b64, Gateway, isEtcd, Member } from "../helpers/index.ts";

test.skipIf(isEtcd())("defrag --data-dir: refused while the member runs; offline, the state file shrinks and every key survives", async () => {
  const m = await Member.start();
  try {
    const dir = m.dataDir!;
    const ep = `--endpoints=${m.endpoint}`;
    const big = "x".repeat(4000);
    const gw = new Gateway(m.clientURL);
    for (let t = 0; t < 3; t++) {
      await gw.ok("/v3/kv/txn", { success: Array.from({ length: 100 }, (_, i) => ({ request_put: { key: b64(`big/${t}/${i}`), value: b64(big) } })) });
    }
    await runConclaveCtl([ep, "put", "keep", "me"]);
    const del = await runConclaveCtl([ep, "del", "big/", "--prefix", "-w", "json"]);
    const rev = (JSON.parse(del.stdout) as { header: { revision: number } }).header.revision;
    expect((await runConclaveCtl([ep, "compaction", "--physical", String(rev)])).code).toBe(0);
    const busy = await runConclaveCtl(["defrag", "--data-dir", dir]);
    expect({ code: busy.code, stdout: busy.stdout }).toEqual({ code: 1, stdout: "" });
    expect(busy.stderr).toBe(`Failed to defragment etcd data[${dir}] (a member is running on it: stop it first, or omit --data-dir to defragment the running member)\n`);
    await m.stop();
    // The state file and SQLite's write-ahead file beside it.
    const state = join(dir, "member", "state.db");
    const size = () => statSync(state).size + (existsSync(`${state}-wal`) ? statSync(`${state}-wal`).size : 0);
    const before = size();
    const r = await runConclaveCtl(["defrag", "--data-dir", dir]);
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(size()).toBeLessThan(before / 2);
    await m.launch();
    expect((await runConclaveCtl([ep, "get", "keep", "--print-value-only"])).stdout).toBe("me\n");
    expect((await runConclaveCtl([ep, "get", "big/", "--prefix", "--keys-only"])).stdout).toBe("");
  } finally {
    await m.cleanup();
  }
}, 120_000);

test.skipIf(isEtcd())("defrag --data-dir of a dir without a state file: one line, exit 1", async () => {
  const r = await runConclaveCtl(["defrag", "--data-dir", "/nonexistent/dd"]);
  expect(r).toEqual({ code: 1, stdout: "", stderr: "Failed to defragment etcd data[/nonexistent/dd] (open /nonexistent/dd/member/state.db: no such file or directory)\n" });
}, 30_000);
