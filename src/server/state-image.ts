// The state file's internal snapshot image (a compact SQLite copy, then its SHA-256), the image
// a lagging follower installs: streaming one out of a copy taken between apply batches, and
// putting a received one in place of the state file. Apart from state-machine.ts, whose apply
// path it does not touch; the machine only takes the copy on its single-writer chain.
import { mkdirSync } from "node:fs";
import { open as openFile, rename, rm } from "node:fs/promises";
import { createHash } from "node:crypto";
import { dirname } from "node:path";
import type { SnapshotResponse } from "../gen/rpc_pb.ts";
import { removeSideCopies } from "./side-copy-switch.ts";
import { type FileEffects, hostFiles } from "./effects.ts";

const SNAPSHOT_CHUNK = 32 * 1024;

/**
 * Replaces the state file with a snapshot image (the blobs of snapshot() without the final
 * sha256 message), e.g. on a follower that received a Raft snapshot. The state machine on
 * `path` must be closed; open it again afterwards. The old WAL files are dropped so SQLite
 * does not replay them over the new image.
 */
export async function installStateImage(path: string, image: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.install.tmp`;
  const fh = await openFile(tmp, "w");
  try {
    for await (const chunk of image) await fh.write(chunk);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rm(`${path}-wal`, { force: true });
  await rm(`${path}-shm`, { force: true });
  removeSideCopies(path);
  await rename(tmp, path);
}

/**
 * Puts a received snapshot image file in place of the state file: renamed, not copied (the
 * image was written and synced next to it by the transport), so installing an image of any size
 * costs no memory and no second write. The state machine on `path` must be closed (closing the
 * last connection checkpoints SQLite's WAL into the old file, so dropping the WAL loses nothing
 * durable); open it again afterwards.
 */
export async function installStateFile(path: string, imagePath: string, files: FileEffects = hostFiles): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await files.remove(`${path}-wal`);
  await files.remove(`${path}-shm`);
  removeSideCopies(path);
  await files.rename(imagePath, path);
  await files.syncDir(dirname(path));
}

/**
 * Streams the image from `tmp`, a copy `takeCopy` writes (VACUUM INTO), in chunks, then its
 * SHA-256; the copy is removed when the stream ends or is closed.
 */
export async function* streamStateImage(tmp: string, files: FileEffects, takeCopy: () => Promise<unknown>): AsyncIterable<SnapshotResponse> {
  await files.remove(tmp);
  await takeCopy();
  const fh = await files.openRead(tmp);
  try {
    const total = fh.size;
    const sha = createHash("sha256");
    let sent = 0;
    while (sent < total) {
      const buf = new Uint8Array(Math.min(SNAPSHOT_CHUNK, total - sent));
      const bytesRead = await fh.read(buf, sent);
      if (bytesRead !== buf.length) throw new Error("snapshot: short read");
      sent += bytesRead;
      sha.update(buf);
      yield { $typeName: "etcdserverpb.SnapshotResponse", header: undefined, remainingBytes: BigInt(total - sent), blob: buf };
    }
    yield {
      $typeName: "etcdserverpb.SnapshotResponse",
      header: undefined,
      remainingBytes: 0n,
      blob: new Uint8Array(sha.digest()),
    };
  } finally {
    await fh.close();
    await files.remove(tmp);
  }
}
