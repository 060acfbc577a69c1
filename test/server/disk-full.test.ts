// Writes that fail for lack of space are waited out, not fatal (src/server/disk-guard.ts): a
// state-file write failing with SQLITE_FULL rolls its group back, the loop reloads the store from
// its file, replays what the log holds after it and applies the batch again once space returns.
// Meanwhile proposals are refused with etcd's "database space exceeded"; afterwards every write
// is there once, and a watcher saw each revision once. A failure that is not about space stops
// the loop.
import { afterEach, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { PutRequestSchema, type WatchResponse, WatchCreateRequestSchema } from "../../src/gen/rpc_pb.ts";
import { SqlDb } from "../../src/storage/sql-db.ts";
import { enc, TestCluster } from "./harness.ts";

let cl: TestCluster | undefined;
afterEach(async () => {
  await cl?.cleanup();
  cl = undefined;
});

const full = () => Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });

/**
 * Makes state files refuse writes while `failing()` holds (SqlDb's prototype: a reloaded store
 * opens a new handle, which must fail too until space returns).
 */
function failWrites(failing: () => boolean, err: () => Error = full): () => void {
  const write = SqlDb.prototype.write;
  SqlDb.prototype.write = function (this: SqlDb, ...a: Parameters<SqlDb["write"]>) {
    if (failing()) throw err();
    return write.apply(this, a);
  };
  return () => {
    SqlDb.prototype.write = write;
  };
}

let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});

test("a state-file write out of space is waited out: proposals refused meanwhile, then every write applied once", async () => {
  cl = await TestCluster.start(1);
  const m = cl.leader()!;
  const revs: number[] = [];
  const ws = m.server.openWatchStream((r: WatchResponse) => {
    for (const e of r.events) revs.push(Number(e.kv!.modRevision));
  }, {}, () => {});
  ws.create(create(WatchCreateRequestSchema, { key: enc("d/"), rangeEnd: enc("d0") }));
  for (let i = 0; i < 3; i++) await cl.put(m, `d/${i}`, "before");
  const before = m.server.loop.sm;

  let noSpace = true;
  let reloads = 0;
  restore = failWrites(() => {
    if (noSpace) reloads++;
    return noSpace;
  });
  const pending = m.server.put(create(PutRequestSchema, { key: enc("d/3"), value: enc("during") }), {});
  let settled = false;
  void pending.then(() => (settled = true), () => (settled = true));
  // (No settle(): it waits for the loop, which waits for space.)
  await new Promise((r) => setTimeout(r, 300));
  expect(m.server.loop.stalled).toBe(true);
  expect(settled).toBe(false);
  expect(reloads).toBeGreaterThan(1); // tried again, and failing still
  // A new proposal is refused at once with etcd's text.
  await expect(m.server.put(create(PutRequestSchema, { key: enc("d/x"), value: enc("y") }), {})).rejects.toThrow(
    "etcdserver: mvcc: database space exceeded",
  );

  noSpace = false;
  const res = await cl.run(pending);
  expect(Number(res.header!.revision)).toBe(5);
  expect(m.server.loop.stalled).toBe(false);
  // The store was reloaded from its file and the log replayed into it.
  expect(m.server.loop.sm).not.toBe(before);
  await cl.put(m, "d/4", "after");
  for (let i = 0; i < 5; i++) expect(await cl.get(m, `d/${i}`)).toBe(i < 3 ? "before" : i === 3 ? "during" : "after");
  expect(m.server.loop.sm.revision).toBe(6);
  await cl.settle();
  expect(revs).toEqual([2, 3, 4, 5, 6]);
});

test("a state-file write failing for another reason stops the loop", async () => {
  cl = await TestCluster.start(1);
  const m = cl.leader()!;
  let fatal: Error | undefined;
  (m.server.loop as unknown as { o: { onFatal?: (e: Error) => void } }).o.onFatal = (e) => (fatal = e);
  restore = failWrites(() => true, () => Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR_WRITE" }));
  await expect(cl.run(m.server.put(create(PutRequestSchema, { key: enc("k"), value: enc("v") }), {}))).rejects.toThrow("etcdserver: server stopped");
  expect(fatal?.message).toBe("disk I/O error");
  expect(m.server.loop.failed?.message).toBe("disk I/O error");
});
