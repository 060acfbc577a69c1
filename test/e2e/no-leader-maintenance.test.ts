// A member whose cluster lost its quorum (a second voter was added and never started): it has
// no leader, and it says so the way etcd does — Status lists "etcdserver: no leader" in its
// errors and names no leader — while the maintenance reads of its own store (HashKV) still
// answer, so an operator can compare members during the outage.
import { expect, test } from "bun:test";
import { freePort, pollUntil, useMember } from "../helpers/index.ts";

const env = useMember();

interface StatusJson {
  Status: { leader?: number; errors?: string[]; header: { revision: number } };
}
interface HashJson {
  HashKV: { hash: number; header: { revision: number } };
}

test("without quorum: Status reports no leader in its errors; member remove fails the strict check; HashKV still answers", async () => {
  const { ctl } = env();
  expect((await ctl.run("put", "nl/a", "1")).code).toBe(0);
  const before = JSON.parse((await ctl.run("endpoint", "hashkv", "-w", "json")).stdout) as HashJson[];
  const ok = JSON.parse((await ctl.run("endpoint", "status", "-w", "json")).stdout) as StatusJson[];
  expect(ok[0]!.Status.errors ?? []).toEqual([]);
  expect(ok[0]!.Status.leader).toBeGreaterThan(0);

  const added = await ctl.run("member", "add", "ghost", `--peer-urls=http://127.0.0.1:${await freePort()}`);
  expect(added.code).toBe(0);
  // The leader steps down once it has not heard from a quorum for an election timeout.
  const down = await pollUntil(
    async () => {
      const r = await ctl.run("endpoint", "status", "-w", "json");
      if (r.code !== 0) return undefined;
      const s = (JSON.parse(r.stdout) as StatusJson[])[0]!.Status;
      return s.errors?.includes("etcdserver: no leader") === true ? s : undefined;
    },
    15_000,
    "status reports no leader",
  );
  expect(down.errors).toEqual(["etcdserver: no leader"]);
  expect(down.leader).toBeUndefined();

  // The strict reconfiguration check comes before the ID is looked up, as in etcd.
  const rm = await ctl.run("member", "remove", "1234");
  expect(rm.code).toBe(1);
  expect(rm.stderr.trim().split("\n").at(-1)).toBe("Error: etcdserver: re-configuration failed due to not enough started members");

  const h = await ctl.run("endpoint", "hashkv", "-w", "json");
  expect(h.code).toBe(0);
  const after = JSON.parse(h.stdout) as HashJson[];
  expect(after[0]!.HashKV.hash).toBe(before[0]!.HashKV.hash);
}, 60_000);
