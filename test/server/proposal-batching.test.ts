// Requests that arrive on many connections in one turn of the event loop share one Ready and one
// fsync. Each connection's data is its own callback; a proposal that started the loop at once was
// a Ready of one entry with one waiter — what a lone client looks like — and got the inline
// fsync on the member's thread, so 100 HTTP/1 (or one-client gRPC) connections were served one
// fdatasync at a time (v2 set at 0.10x etcd, gRPC put at 100 clients on 100 connections 0.2x).
import { afterEach, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { PutRequestSchema } from "../../src/gen/rpc_pb.ts";
import { enc, TestCluster } from "./harness.ts";

let cl: TestCluster | undefined;
afterEach(async () => {
  await cl?.cleanup();
  cl = undefined;
});

test("puts from 20 connections read in one turn are made durable by one sync, not 20 inline ones", async () => {
  cl = await TestCluster.start(1);
  const m = cl.leader()!;
  // A lone client first: it earns the inline fsync (one entry per sync for a while).
  for (let i = 0; i < 20; i++) await cl.put(m, `warm/${i}`, "v");

  const log = m.m!.log;
  const syncs: boolean[] = [];
  const sync = log.sync.bind(log);
  log.sync = (inline?: boolean) => {
    syncs.push(inline === true);
    return sync(inline);
  };
  // 20 sockets' data handled in one poll: 20 callbacks queued in the same turn.
  const puts = await new Promise<Promise<unknown>[]>((resolve) => {
    const started: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      setImmediate(() => {
        started.push(m.server.put(create(PutRequestSchema, { key: enc(`conn/${i}`), value: enc("v") }), {}));
        if (started.length === 20) resolve(started);
      });
    }
  });
  await Promise.all(puts);

  expect(syncs.length).toBe(1);
  expect(syncs[0]).toBe(false);
  for (let i = 0; i < 20; i++) expect(await cl.get(m, `conn/${i}`)).toBe("v");
});

test("a put whose caller gave up before its proposal reached Raft is answered 'context canceled' and never proposed", async () => {
  cl = await TestCluster.start(1);
  const m = cl.leader()!;
  await cl.put(m, "before", "v");
  const indexBefore = m.server.loop.commitIndex();
  // Two puts in one turn; the first one's caller goes away within it (its stream reset).
  let gone = false;
  const dropped = m.server.put(create(PutRequestSchema, { key: enc("dropped"), value: enc("v") }), { cancelled: () => gone });
  const kept = m.server.put(create(PutRequestSchema, { key: enc("kept"), value: enc("v") }), { cancelled: () => false });
  gone = true;
  await expect(dropped).rejects.toMatchObject({ message: "context canceled" });
  await kept;
  expect(await cl.get(m, "dropped")).toBeUndefined();
  expect(await cl.get(m, "kept")).toBe("v");
  // One entry went into the log for the two puts: only the kept one.
  expect(m.server.loop.commitIndex()).toBe(indexBefore + 1);
});
