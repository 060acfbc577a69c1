import { expect, test } from "bun:test";
import {
  CodecError, ConfChangeType, decodeConfChange, decodeMessage, encodeConfChange, encodeMessage,
  EntryType, MessageType, msg, type Message,
} from "../../src/raft/index.ts";

const enc = new TextEncoder();

const samples: Message[] = [
  msg({ type: MessageType.MsgHeartbeat, to: 2n, from: 1n, term: 7, commit: 42, context: enc.encode("ctx") }),
  msg({
    type: MessageType.MsgApp, to: 0xffff_ffff_ffff_ffffn, from: 0x8e9e05c52164694dn, term: 2 ** 40, logTerm: 3, index: Number.MAX_SAFE_INTEGER, commit: 9,
    entries: [
      { term: 3, index: 10, type: EntryType.Normal, data: enc.encode("hello") },
      { term: 3, index: 11, type: EntryType.ConfChange, data: new Uint8Array(300).fill(7) },
    ],
  }),
  msg({ type: MessageType.MsgAppResp, to: 1n, from: 3n, term: 5, index: 100, reject: true, rejectHint: 77, logTerm: 4 }),
  msg({
    type: MessageType.MsgSnap, to: 3n, from: 1n, term: 2,
    snapshot: { meta: { index: 50, term: 2, confState: { voters: [1n, 2n, 3n], learners: [9n] } }, data: enc.encode("state") },
  }),
  msg({ type: MessageType.MsgPreVote, to: 2n, from: 1n, term: 3, logTerm: 2, index: 8 }),
];

test("messages round-trip through the binary codec", () => {
  for (const m of samples) {
    const back = decodeMessage(encodeMessage(m));
    expect(back).toEqual(m);
  }
});

test("conf changes round-trip", () => {
  const cc = { type: ConfChangeType.AddLearnerNode, nodeId: 0xabcdefn, id: 12345n, context: enc.encode('{"name":"m4"}') };
  expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
});

test("malformed input is rejected with CodecError, never a crash", () => {
  const good = encodeMessage(samples[1]!);
  // Every truncation fails cleanly.
  for (let n = 0; n < good.length; n++) expect(() => decodeMessage(good.subarray(0, n))).toThrow(CodecError);
  // Trailing garbage, unknown version, unknown type, unknown flags.
  expect(() => decodeMessage(new Uint8Array([...good, 0]))).toThrow(CodecError);
  expect(() => decodeMessage(new Uint8Array([9, ...good.subarray(1)]))).toThrow(CodecError);
  expect(() => decodeMessage(new Uint8Array([1, 200, ...good.subarray(2)]))).toThrow(CodecError);
  // A huge declared entry count cannot make the decoder allocate or loop.
  const hb = encodeMessage(msg({ type: MessageType.MsgHeartbeat, to: 1n, from: 2n }));
  const bad = hb.slice();
  bad[bad.length - 1] = 0x7f;
  expect(() => decodeMessage(bad)).toThrow(CodecError);
  // An over-long varint.
  expect(() => decodeMessage(new Uint8Array([1, 8, ...new Array(16).fill(0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(CodecError);
  // Random bytes: only CodecError may escape.
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (let i = 0; i < 2000; i++) {
    const buf = new Uint8Array(1 + (rnd() % 60)).map(() => rnd());
    buf[0] = 1;
    try {
      decodeMessage(buf);
    } catch (e) {
      expect(e).toBeInstanceOf(CodecError);
    }
  }
  expect(() => decodeConfChange(new Uint8Array([7]))).toThrow(CodecError);
  expect(() => encodeMessage(msg({ type: MessageType.MsgApp, term: -1 }))).toThrow(CodecError);
});
