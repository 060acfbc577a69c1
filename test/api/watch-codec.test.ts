// The WatchResponse frame encoder writes protobuf-es's bytes exactly, whatever it remembers.
import { expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { EventSchema, Event_EventType } from "../../src/gen/kv_pb.ts";
import { ResponseHeaderSchema, WatchResponseSchema, type WatchResponse } from "../../src/gen/rpc_pb.ts";
import { encodeFrame } from "../../src/api/grpc/framing.ts";
import { frameWatchResponse } from "../../src/api/rpc/watch-codec.ts";
import { mulberry32 } from "../helpers/rng.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const header = create(ResponseHeaderSchema, { clusterId: 0xcdf818194e3a8c32n, memberId: 0x8e9e05c52164694dn, revision: 123456789n, raftTerm: 7n });

function ev(i: number, withPrev: boolean, del = false) {
  return create(EventSchema, {
    type: del ? Event_EventType.DELETE : Event_EventType.PUT,
    kv: { key: enc(`key/${i}`), value: del ? new Uint8Array(0) : enc("v".repeat(i)), createRevision: BigInt(i), modRevision: BigInt(i + 5), version: BigInt(i % 3), lease: BigInt(i * 1000003) },
    prevKv: withPrev ? { key: enc(`key/${i}`), value: enc("old"), createRevision: 1n, modRevision: BigInt(i + 4), version: 1n } : undefined,
  });
}

const reference = (m: WatchResponse) => new Uint8Array(encodeFrame(toBinary(WatchResponseSchema, m)));

test("every field shape encodes as protobuf-es does", () => {
  const cases: WatchResponse[] = [
    create(WatchResponseSchema, {}),
    create(WatchResponseSchema, { header, watchId: 0n, created: true }),
    create(WatchResponseSchema, { header, watchId: -1n, created: true, canceled: true, cancelReason: "mvcc: duplicate watch ID provided on the WatchStream" }),
    create(WatchResponseSchema, { header: create(ResponseHeaderSchema, {}), watchId: 5n, canceled: true, compactRevision: 99999999999n }),
    create(WatchResponseSchema, { header, watchId: 2n ** 40n, events: [ev(1, false)], fragment: true }),
    create(WatchResponseSchema, { header, watchId: 3n, events: [ev(1, true), ev(200, false, true), ev(300, true)] }),
    create(WatchResponseSchema, { header, watchId: 4n, cancelReason: "ünïcode ✓" }),
  ];
  for (const m of cases) expect(frameWatchResponse(m)).toEqual(reference(m));
});

test("shared events, lists and headers are reused across watchers and still encode right", () => {
  const rng = mulberry32(7);
  const shared = Array.from({ length: 50 }, (_, i) => ev(i, rng() < 0.5, rng() < 0.2));
  for (let w = 0; w < 200; w++) {
    const m = create(WatchResponseSchema, { header, watchId: BigInt(w), events: shared });
    expect(frameWatchResponse(m)).toEqual(reference(m));
  }
  // A sub-list of the same events (a fragment) is its own list.
  const part = shared.slice(10, 20);
  const m = create(WatchResponseSchema, { header, watchId: 9n, events: part, fragment: true });
  expect(frameWatchResponse(m)).toEqual(reference(m));
});
