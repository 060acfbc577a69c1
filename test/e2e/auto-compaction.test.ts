// --auto-compaction-mode periodic: history older than the retention window is compacted by
// itself, and the compacted error follows, while recent revisions stay readable.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Ctl, errorLine, Member, pollUntil } from "../helpers/index.ts";

let member: Member;
beforeAll(async () => {
  member = await Member.start({ extraArgs: ["--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1s"] });
});
afterAll(async () => {
  await member?.cleanup();
});

test("periodic auto compaction compacts revisions older than the retention", async () => {
  const ctl = new Ctl(member.endpoint);
  await ctl.ok("put", "ac/k", "1");
  await ctl.ok("put", "ac/k", "2");
  // Keep writing so the window moves; the first revisions must become compacted.
  let n = 3;
  await pollUntil(
    async () => {
      await ctl.ok("put", "ac/k", String(n++));
      const r = await ctl.run("get", "ac/k", "--rev", "2");
      return errorLine(r) === "Error: etcdserver: mvcc: required revision has been compacted" ? true : undefined;
    },
    20_000,
    "revision 2 to be compacted",
    200,
  );
  // The latest value is still there.
  expect((await ctl.ok("get", "ac/k", "--print-value-only")).trim()).toBe(String(n - 1));
}, 30_000);
