// The auto compactor's decisions, driven by hand: which revision it compacts to, and when not.
import { expect, test } from "bun:test";
import { startCompactor } from "../../src/server/compactor.ts";

function harness(mode: "periodic" | "revision", retention: number) {
  const s = { leader: true, revision: 0, compactRevision: 0, compacted: [] as number[], tick: () => {}, every: 0 };
  startCompactor(
    { mode, retention },
    {
      isLeader: () => s.leader,
      revision: () => s.revision,
      compactRevision: () => s.compactRevision,
      compact: (r) => {
        s.compacted.push(r);
        s.compactRevision = r;
      },
      setInterval: (fn, ms) => {
        s.tick = fn;
        s.every = ms;
        return 1;
      },
    },
  );
  return s;
}

test("revision mode: every 5 minutes keeps the last `retention` revisions, on the leader only", () => {
  const s = harness("revision", 100);
  expect(s.every).toBe(300_000);
  s.revision = 50;
  s.tick();
  expect(s.compacted).toEqual([]); // nothing older than the window yet
  s.revision = 1000;
  s.tick();
  expect(s.compacted).toEqual([900]);
  s.tick();
  expect(s.compacted).toEqual([900]); // already there
  s.leader = false;
  s.revision = 2000;
  s.tick();
  expect(s.compacted).toEqual([900]);
});

test("periodic mode: compacts to the revision seen one retention ago; a new leader starts over", () => {
  const s = harness("periodic", 60_000);
  expect(s.every).toBe(6000);
  for (let i = 1; i <= 10; i++) {
    s.revision = i * 10;
    s.tick();
  }
  expect(s.compacted).toEqual([]); // ten samples: the window is not full yet
  s.revision = 110;
  s.tick();
  expect(s.compacted).toEqual([10]);
  s.leader = false;
  s.tick();
  s.leader = true;
  for (let i = 0; i < 10; i++) s.tick();
  expect(s.compacted).toEqual([10]); // the window was emptied when leadership was lost
  s.tick();
  expect(s.compacted).toEqual([10, 110]);
});
