// Leader failover time as a client sees it: a three-member cluster on loopback under light
// write load, the leader SIGKILLed, and the time until the first write is acknowledged again
// (probe writes sent every 20 ms to the survivors, each with its own timeout). Runs etcd and
// our binary with identical flags (--heartbeat-interval 50 --election-timeout 500) and prints
// both, for docs/benchmarks.md.
//
//   node_modules/.bin/bun bench/failover.ts [--rounds 5] [--targets etcd,conclave]
//   ETCD_BIN / CONCLAVE_BIN override the executables.
import { resolve } from "node:path";
import { Cluster, ELECTION_TIMEOUT_MS, FAST_RAFT_FLAGS, measureFirstWrite, WriteLoad } from "../test/helpers/index.ts";

interface Args {
  rounds: number;
  targets: string[];
}

function parseArgs(argv: string[]): Args {
  const out: Args = { rounds: 5, targets: ["etcd", "conclave"] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === "--rounds" && v !== undefined) {
      out.rounds = Number(v);
      i++;
    } else if (a === "--targets" && v !== undefined) {
      out.targets = v.split(",");
      i++;
    } else {
      throw new Error(`unknown argument ${a}; usage: bench/failover.ts [--rounds N] [--targets etcd,conclave]`);
    }
  }
  if (!Number.isSafeInteger(out.rounds) || out.rounds < 1) throw new Error("--rounds must be a positive integer");
  return out;
}

function binaryFor(target: string): string {
  if (target === "etcd") return process.env.ETCD_BIN ?? "/usr/bin/etcd";
  if (target === "conclave") return process.env.CONCLAVE_BIN ?? resolve(import.meta.dir, "..", "dist", "conclave");
  throw new Error(`unknown target ${target}`);
}

/** One round: fresh cluster, load, SIGKILL the leader, measure, tear down. */
async function round(bin: string): Promise<number> {
  const cluster = await Cluster.start({ size: 3, bin });
  try {
    const leader = await cluster.waitLeader();
    const survivors = cluster.members.filter((m) => m !== leader);
    const load = new WriteLoad(() => cluster.members, { writers: 2, prefix: "bench/", requestTimeoutMs: 2000 });
    load.start();
    try {
      await load.waitAcks(50, 15_000);
      const killedAt = performance.now();
      await leader.kill();
      const first = await measureFirstWrite(survivors, killedAt, { everyMs: 20 });
      return first.ms;
    } finally {
      await load.stop();
    }
  } finally {
    await cluster.cleanup();
  }
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s.at(-1)! };
};

const args = parseArgs(process.argv.slice(2));
console.log(`failover: 3 members on loopback, flags ${FAST_RAFT_FLAGS.join(" ")}, ${args.rounds} rounds per target`);
const medians = new Map<string, number>();
for (const target of args.targets) {
  const bin = binaryFor(target);
  const times: number[] = [];
  for (let r = 0; r < args.rounds; r++) {
    try {
      const ms = await round(bin);
      times.push(ms);
      console.log(`  ${target} round ${r + 1}: ${ms.toFixed(0)} ms`);
    } catch (e) {
      console.log(`  ${target} round ${r + 1}: failed: ${String(e).split("\n")[0]}`);
    }
  }
  if (times.length === 0) {
    console.log(`${target}: no successful round`);
    continue;
  }
  const s = stats(times);
  medians.set(target, s.median);
  console.log(
    `${target}: median ${s.median.toFixed(0)} ms, min ${s.min.toFixed(0)} ms, max ${s.max.toFixed(0)} ms ` +
      `(${(s.median / ELECTION_TIMEOUT_MS).toFixed(1)} election timeouts; ${times.length}/${args.rounds} rounds)`,
  );
}
const e = medians.get("etcd");
const c = medians.get("conclave");
if (e !== undefined && c !== undefined) console.log(`conclave/etcd median failover ratio: ${(c / e).toFixed(2)}`);
