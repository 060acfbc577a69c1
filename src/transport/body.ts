// Reading request bodies from node streams: whole (bounded) for message batches, and streamed to
// a temp file for snapshot images so an image of any size never sits in memory.
import type { Readable } from "node:stream";
import { open, rm, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { CodecError, decodeMessage } from "../raft/codec.ts";
import { MessageType, type Message } from "../raft/message.ts";
import { announcedImageLength, formatId } from "./wire.ts";
import { collectEvery } from "../runtime/heap-governor.ts";

export class BodyTooLargeError extends Error {
  override readonly name = "BodyTooLargeError";
}

/** Reads a body up to `limit` bytes; throws BodyTooLargeError beyond it. */
export async function readBody(stream: Readable, limit: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLargeError(`body exceeds ${limit} bytes`);
    chunks.push(chunk);
  }
  if (chunks.length === 1) return chunks[0]!;
  return Buffer.concat(chunks, size);
}

let tempSeq = 0;

async function createTemp(dir: string, m: Message): Promise<{ fh: FileHandle; path: string }> {
  const base = `snap-${formatId(m.from)}-${m.snapshot?.meta.term ?? 0}-${m.snapshot?.meta.index ?? 0}`;
  for (;;) {
    const path = join(dir, `${base}-${process.pid}-${++tempSeq}.tmp`);
    try {
      return { fh: await open(path, "wx", 0o600), path };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
}

/**
 * Parses `[u32 len][MsgSnap]` from the head of the stream and writes the rest to a new file in
 * `dir`, fsynced before it is handed over. Throws CodecError on a malformed head or one longer
 * than `maxHead` (the image itself may be any size: it goes to disk as it arrives); on any
 * failure the partial file is removed.
 */
export async function receiveSnapshotStream(
  stream: Readable,
  dir: string,
  maxHead: number,
  collectGarbage?: () => void,
): Promise<{ m: Message; path: string }> {
  // Measured on a 144 MiB image (test/e2e/cluster-snapshot-memory): the receiving member's RSS
  // grew 46-85 MiB without the collections, the chunks outliving their write.
  const gc = collectEvery(collectGarbage);
  let head: Buffer = Buffer.alloc(0);
  let m: Message | undefined;
  let file: { fh: FileHandle; path: string } | undefined;
  let written = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let rest: Buffer = chunk;
      if (m === undefined) {
        head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
        if (head.length < 4) continue;
        const len = head.readUInt32BE(0);
        if (len > maxHead) throw new CodecError(`snapshot message of ${len} bytes is too large`);
        if (head.length < 4 + len) continue;
        m = decodeMessage(head.subarray(4, 4 + len));
        if (m.type !== MessageType.MsgSnap) throw new CodecError(`expected MsgSnap, got type ${m.type}`);
        file = await createTemp(dir, m);
        rest = head.subarray(4 + len);
        head = Buffer.alloc(0);
      }
      // Sequential awaited writes: the socket is not read faster than the disk takes the bytes.
      if (rest.length > 0) {
        await file!.fh.write(rest);
        written += rest.length;
        gc(chunk.length);
      }
    }
    if (m === undefined) throw new CodecError("truncated snapshot message");
    const expected = announcedImageLength(m);
    if (expected !== undefined && written !== expected) {
      throw new CodecError(`snapshot image of ${written} bytes, ${expected} announced: the sender stopped short`);
    }
    const done = file!;
    await done.fh.sync();
    await done.fh.close();
    file = undefined;
    return { m, path: done.path };
  } catch (e) {
    if (file !== undefined) {
      await file.fh.close().catch(() => {});
      await rm(file.path, { force: true }).catch(() => {});
    }
    throw e;
  }
}
