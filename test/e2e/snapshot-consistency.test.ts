// A snapshot taken while writers keep writing holds the store at exactly one revision R: restored
// into Debian's etcd, it has every acknowledged write up to R, none after, and no hole (each
// revision 2..R is one fresh key). Writes go on while the snapshot streams.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { Cluster, ETCD_SERVER_BIN, etcdctlRestore, makeTempDir, removeDir, runEtcdctl, useCluster, WriteLoad } from "../helpers/index.ts";

const cluster = useCluster({ size: 1, namePrefix: "src" });

test("a snapshot under concurrent writes is the store at one revision, with no hole", async () => {
  const dir = makeTempDir("e2e-snapshot-consistency");
  const c = cluster();
  const load = new WriteLoad(() => c.running(), { writers: 4, prefix: "load/" });
  try {
    load.start();
    await load.waitFor(() => load.acks.length >= 300, 30_000, "300 writes before the snapshot");
    const file = join(dir, "under-load.db");
    const atStart = load.acks.length;
    const r = await runEtcdctl(c.members[0]!.endpoint, ["snapshot", "save", file]);
    expect(r.code).toBe(0);
    await load.waitFor(() => load.acks.length >= atStart + 100, 30_000, "writes after the snapshot");
    await load.stop();

    const restored = await Cluster.start({ size: 1, bin: ETCD_SERVER_BIN, namePrefix: "check", prepare: async (p) => etcdctlRestore(file, p) });
    try {
      const got = JSON.parse(await restored.members[0]!.ctl.ok("get", "load/", "--prefix", "-w", "json")) as {
        header: { revision: number };
        kvs?: { key: string; value: string; mod_revision: number; create_revision: number }[];
      };
      const revision = got.header.revision;
      const kvs = got.kvs ?? [];
      // Every revision from 2 to R is one write of the load, each to a fresh key.
      expect(kvs.length).toBe(revision - 1);
      expect(new Set(kvs.map((kv) => kv.mod_revision)).size).toBe(kvs.length);
      expect(Math.max(...kvs.map((kv) => kv.mod_revision))).toBe(revision);
      // Exactly the acknowledged writes up to R are there, with their values.
      const inImage = new Map(kvs.map((kv) => [Buffer.from(kv.key, "base64").toString(), kv]));
      const acked = load.acks.filter((a) => a.revision <= revision);
      expect(acked.length).toBeGreaterThan(0);
      for (const a of acked) {
        const kv = inImage.get(a.key);
        expect(kv?.mod_revision).toBe(a.revision);
        expect(Buffer.from(kv!.value, "base64").toString()).toBe(a.value);
      }
      expect(load.acks.some((a) => a.revision > revision)).toBe(true);
      for (const a of load.acks) if (a.revision > revision) expect(inImage.has(a.key)).toBe(false);
    } finally {
      await restored.cleanup();
    }
  } finally {
    await load.stop();
    removeDir(dir);
  }
}, 120_000);
