// snapshot save / status / restore. save streams Maintenance.Snapshot into <file>.part, checks
// the size and the trailing SHA-256 the way etcdctl does, then renames it into place. status and
// restore read etcd's bbolt format with the snapshot library (src/snapshot), loaded only by
// those two commands; restore builds a Conclave data dir for one member of a new cluster.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { Maintenance } from "../../../src/gen/rpc_pb.ts";
import { ClientError } from "../../../src/client/index.ts";
import type { Command } from "../command.ts";
import { Exit, fail } from "../exit.ts";
import { hintFor } from "../globals.ts";
import { errln, isTTY, outln } from "../io.ts";
import { Progress } from "../progress.ts";

const DEFAULT_NAME = "default";

/** The snapshot library and a full collector (keeps a large file's memory flat), on demand. */
async function snapshotLibrary() {
  const [lib, rt] = await Promise.all([import("../../../src/snapshot/index.ts"), import("../../../src/runtime/heap-governor.ts")]);
  return { lib, collectGarbage: await rt.fullCollector() };
}

/** The library's errors (and config's URL errors) are etcdctl's one line; exit 1 as etcdctl. */
function failWith(e: unknown): never {
  if (e instanceof Error) fail(Exit.Error, e.message);
  throw e;
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export const snapshotCommand: Command = {
  name: "snapshot",
  use: "snapshot <subcommand>",
  short: "Manages etcd node snapshots",
  sub: [
    {
      name: "save",
      use: "save <filename>",
      short: "Stores an etcd node backend snapshot to a given file",
      async run({ args, g }) {
        if (args.length !== 1) fail(Exit.BadArgs, "snapshot save expects one argument");
        const path = args[0]!;
        const eps = await g.endpoints();
        if (eps.length !== 1) fail(Exit.BadArgs, `snapshot must be requested to one selected node, not multiple [${eps.join(" ")}]`);
        const c = await g.client();
        const partPath = `${path}.part`;
        let fd: number;
        try {
          fd = openSync(partPath, "w", 0o600);
        } catch (e) {
          fail(Exit.Interrupted, `could not open ${partPath} (${(e as Error).message})`);
        }
        const deadline = g.fs.changed.has("command-timeout") ? g.deadline() : Date.now() + 365 * 24 * 3600_000;
        const progress = new Progress("snapshot", undefined);
        let size = 0;
        // node:crypto is loaded by this command only (it costs every one-shot command ~5 ms).
        const { createHash } = await import("node:crypto");
        const hash = createHash("sha256");
        let last = new Uint8Array(0);
        try {
          const s = await c.openStream(Maintenance.method.snapshot, { deadline });
          s.send({});
          s.end();
          const timer = setTimeout(() => s.cancel(), Math.min(2_147_483_647, Math.max(0, deadline - Date.now())));
          for (;;) {
            const m = await s.next();
            if (m === undefined) break;
            if (progress !== undefined && size === 0) progress.setTotal(Number(m.remainingBytes) + m.blob.length);
            writeSync(fd, m.blob);
            // Everything but the last 32 bytes is hashed: those are the checksum itself.
            const all = new Uint8Array(last.length + m.blob.length);
            all.set(last);
            all.set(m.blob, last.length);
            const keep = Math.min(32, all.length);
            hash.update(all.subarray(0, all.length - keep));
            last = all.slice(all.length - keep);
            size += m.blob.length;
            progress.add(m.blob.length);
          }
          clearTimeout(timer);
          if (s.error) throw s.error;
          fsyncSync(fd);
          closeSync(fd);
        } catch (e) {
          progress.finish();
          try {
            closeSync(fd);
          } catch {}
          try {
            unlinkSync(partPath);
          } catch {}
          c.close();
          if (e instanceof ClientError) fail(Exit.Interrupted, e.text, hintFor(e, g));
          throw e;
        }
        progress.finish();
        c.close();
        if (size % 512 !== 32) {
          unlinkSync(partPath);
          fail(Exit.Interrupted, "sha256 checksum not found");
        }
        const sum = hash.digest();
        if (!Buffer.from(last).equals(sum)) {
          unlinkSync(partPath);
          fail(Exit.Interrupted, "expected sha256 [...], got [...]".replace("[...]", `[${[...last].join(" ")}]`).replace("[...]", `[${[...sum].join(" ")}]`));
        }
        renameSync(partPath, path);
        outln(`Snapshot saved at ${path}`);
      },
    },
    {
      name: "restore",
      use: "restore <filename> [options]",
      short: "Restores an etcd member snapshot to an etcd directory",
      flags: [
        { name: "data-dir", type: "string", def: "", usage: "Path to the data directory" },
        { name: "wal-dir", type: "string", def: "", usage: "Path to the WAL directory (use --data-dir if none given)" },
        { name: "initial-cluster", type: "string", def: `${DEFAULT_NAME}=http://localhost:2380`, usage: "Initial cluster configuration for restore bootstrap" },
        { name: "initial-cluster-token", type: "string", def: "etcd-cluster", usage: "Initial cluster token for the etcd cluster during restore bootstrap" },
        { name: "initial-advertise-peer-urls", type: "string", def: "http://localhost:2380", usage: "List of this member's peer URLs to advertise to the rest of the cluster" },
        { name: "name", type: "string", def: DEFAULT_NAME, usage: "Human-readable name for this member" },
        { name: "skip-hash-check", type: "bool", def: "false", usage: "Ignore snapshot integrity hash value (required if copied from data directory)" },
      ],
      async run({ args, flags, g }) {
        if (args.length !== 1) fail(Exit.BadArgs, "snapshot restore requires exactly one argument");
        const { lib, collectGarbage } = await snapshotLibrary();
        const given = (n: string) => (flags.changed.has(n) ? flags.string(n) : undefined);
        const name = flags.string("name");
        const progress = new Progress("restore", undefined);
        let result;
        try {
          result = await lib.restoreSnapshot({
            snapshotPath: args[0]!,
            name,
            dataDir: given("data-dir") || undefined,
            walDir: given("wal-dir") || undefined,
            initialCluster: flags.string("initial-cluster"),
            initialClusterToken: flags.string("initial-cluster-token"),
            initialAdvertisePeerUrls: flags.string("initial-advertise-peer-urls"),
            skipHashCheck: flags.bool("skip-hash-check"),
            collectGarbage,
            progress: (done, total) => progress.update(done, total),
          });
        } catch (e) {
          progress.finish();
          failWith(e);
        }
        progress.finish();
        if (!isTTY(2)) return;
        // For people: how to start what was restored, and how to restore the other members.
        const cluster = flags.string("initial-cluster");
        const peers = flags.string("initial-advertise-peer-urls");
        const host = new URL(peers.split(",")[0]!).hostname;
        const start = [
          "conclave", "--name", name, "--data-dir", result.dataDir, ...(given("wal-dir") ? ["--wal-dir", given("wal-dir")!] : []),
          "--initial-advertise-peer-urls", peers, "--listen-peer-urls", peers,
          "--listen-client-urls", `http://${host}:2379`, "--advertise-client-urls", `http://${host}:2379`,
          "--initial-cluster", cluster, "--initial-cluster-token", flags.string("initial-cluster-token"),
        ].map(shellQuote).join(" ");
        errln(`restored member ${name} (ID ${result.memberId.toString(16)}, cluster ${result.clusterId.toString(16)}) into ${result.dataDir} at revision ${result.revision}`);
        errln("Start it with (adjust the client URLs as needed):");
        errln(`  ${start}`);
        const others = cluster.split(",").map((e) => e.split("=")).filter(([n]) => n !== name);
        if (others.length > 0) {
          errln("Restore the same snapshot for each other member before starting them, e.g.:");
          for (const [n, u] of others) {
            errln(`  conclave ctl snapshot restore ${shellQuote(args[0]!)} --name ${shellQuote(n!)} --initial-advertise-peer-urls ${shellQuote(u ?? "")} --initial-cluster ${shellQuote(cluster)} --initial-cluster-token ${shellQuote(flags.string("initial-cluster-token"))} --data-dir ${shellQuote(`${n}.conclave`)}`);
          }
        }
      },
    },
    {
      name: "status",
      use: "status <filename>",
      short: "Gets backend snapshot status of a given file",
      long: `When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
The items in the lists are hash, revision, total keys, total size.
`,
      async run({ args, g }) {
        if (args.length !== 1) fail(Exit.BadArgs, "snapshot status requires exactly one argument");
        const d = g.display();
        const { lib, collectGarbage } = await snapshotLibrary();
        let st;
        try {
          st = await lib.snapshotStatus(args[0]!, collectGarbage);
        } catch (e) {
          failWith(e);
        }
        d.dbStatus(st);
      },
    },
  ],
};
