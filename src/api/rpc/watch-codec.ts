// A gRPC frame encoder for WatchResponse that writes each shared part once. The watch hub
// hands every watcher of a batch the same Event objects, event lists and headers
// (src/server/watch-batch.ts); their encodings are remembered by object identity, so fanning one
// batch out to thousands of watchers costs one protobuf encoding of each event plus a copy per
// watcher, instead of a full encoding per watcher. The bytes are the ones protobuf-es writes
// (fields in number order, proto3 defaults left out).
import { toBinary } from "@bufbuild/protobuf";
import { EventSchema, type Event } from "../../gen/kv_pb.ts";
import { ResponseHeaderSchema, type ResponseHeader, type WatchResponse } from "../../gen/rpc_pb.ts";

/** Encoded `header` field (tag, length, message) by header object. */
const headers = new WeakMap<ResponseHeader, Uint8Array>();
/** Encoded `events` fields (tag, length, message each) by event list. */
const lists = new WeakMap<readonly Event[], Uint8Array>();
/** Encoded `events` field of one event by event object. */
const events = new WeakMap<Event, Uint8Array>();

const TAG_HEADER = 0x0a; // field 1, length-delimited
const TAG_WATCH_ID = 0x10; // field 2, varint
const TAG_CREATED = 0x18; // field 3
const TAG_CANCELED = 0x20; // field 4
const TAG_COMPACT = 0x28; // field 5
const TAG_REASON = 0x32; // field 6, length-delimited
const TAG_FRAGMENT = 0x38; // field 7
const TAG_EVENT = 0x5a; // field 11, length-delimited

const utf8 = new TextEncoder();

/** The complete gRPC frame (5-byte prefix, then the message) of a WatchResponse. */
export function frameWatchResponse(msg: WatchResponse): Uint8Array {
  const head = msg.header === undefined ? undefined : headerField(msg.header);
  const evs = msg.events.length === 0 ? undefined : eventsField(msg.events);
  const reason = msg.cancelReason === "" ? undefined : utf8.encode(msg.cancelReason);
  let n = 0;
  if (head !== undefined) n += head.length;
  if (msg.watchId !== 0n) n += 1 + varintSize(BigInt.asUintN(64, msg.watchId));
  if (msg.created) n += 2;
  if (msg.canceled) n += 2;
  if (msg.compactRevision !== 0n) n += 1 + varintSize(BigInt.asUintN(64, msg.compactRevision));
  if (reason !== undefined) n += 1 + varintSize(BigInt(reason.length)) + reason.length;
  if (msg.fragment) n += 2;
  if (evs !== undefined) n += evs.length;
  const out = new Uint8Array(5 + n);
  out[0] = 0;
  new DataView(out.buffer).setUint32(1, n);
  let p = 5;
  if (head !== undefined) {
    out.set(head, p);
    p += head.length;
  }
  if (msg.watchId !== 0n) {
    out[p++] = TAG_WATCH_ID;
    p = writeVarint(out, p, BigInt.asUintN(64, msg.watchId));
  }
  if (msg.created) {
    out[p++] = TAG_CREATED;
    out[p++] = 1;
  }
  if (msg.canceled) {
    out[p++] = TAG_CANCELED;
    out[p++] = 1;
  }
  if (msg.compactRevision !== 0n) {
    out[p++] = TAG_COMPACT;
    p = writeVarint(out, p, BigInt.asUintN(64, msg.compactRevision));
  }
  if (reason !== undefined) {
    out[p++] = TAG_REASON;
    p = writeVarint(out, p, BigInt(reason.length));
    out.set(reason, p);
    p += reason.length;
  }
  if (msg.fragment) {
    out[p++] = TAG_FRAGMENT;
    out[p++] = 1;
  }
  if (evs !== undefined) {
    out.set(evs, p);
    p += evs.length;
  }
  if (p !== out.length) throw new Error(`watch codec: wrote ${p} of ${out.length} bytes`);
  return out;
}

function headerField(h: ResponseHeader): Uint8Array {
  let b = headers.get(h);
  if (b === undefined) {
    b = field(TAG_HEADER, toBinary(ResponseHeaderSchema, h));
    headers.set(h, b);
  }
  return b;
}

function eventsField(list: readonly Event[]): Uint8Array {
  let b = lists.get(list);
  if (b !== undefined) return b;
  if (list.length === 1) {
    b = eventField(list[0]!);
  } else {
    const parts = list.map(eventField);
    let n = 0;
    for (const x of parts) n += x.length;
    b = new Uint8Array(n);
    let p = 0;
    for (const x of parts) {
      b.set(x, p);
      p += x.length;
    }
  }
  lists.set(list, b);
  return b;
}

function eventField(e: Event): Uint8Array {
  let b = events.get(e);
  if (b === undefined) {
    b = field(TAG_EVENT, toBinary(EventSchema, e));
    events.set(e, b);
  }
  return b;
}

function field(tag: number, body: Uint8Array): Uint8Array {
  const len = BigInt(body.length);
  const out = new Uint8Array(1 + varintSize(len) + body.length);
  out[0] = tag;
  const p = writeVarint(out, 1, len);
  out.set(body, p);
  return out;
}

function varintSize(v: bigint): number {
  let n = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}

function writeVarint(out: Uint8Array, p: number, v: bigint): number {
  if (v < 0x80n) {
    out[p++] = Number(v);
    return p;
  }
  while (v >= 0x80n) {
    out[p++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  out[p++] = Number(v);
  return p;
}
