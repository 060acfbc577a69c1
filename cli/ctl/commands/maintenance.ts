import { create } from "@bufbuild/protobuf";
// endpoint health/status/hashkv, alarm disarm/list, defrag, move-leader.
import { AlarmRequest_AlarmAction, AlarmResponseSchema, AlarmType, Cluster, HashKVResponseSchema, KV, Maintenance, MoveLeaderResponseSchema, StatusResponseSchema } from "../../../src/gen/rpc_pb.ts";
import { ClientError } from "../../../src/client/index.ts";
import { Errors } from "../../../src/rpctypes/index.ts";
import type { Command, RunContext } from "../command.ts";
import { Exit, exitQuietly, fail } from "../exit.ts";
import type { FlagDef } from "../flags.ts";
import type { Globals } from "../globals.ts";
import { goDuration } from "../go-format.ts";
import { errln, outln } from "../io.ts";
import type { EpHashKV, EpHealth, EpStatus } from "../printer.ts";
import { callOrFail } from "./util.ts";

const CLUSTER_FLAG: FlagDef = { name: "cluster", type: "bool", def: "false", usage: "use all endpoints from the cluster member list" };

/** --endpoints, or with --cluster every member's client URLs. */
async function endpointsFromCluster(ctx: RunContext): Promise<string[]> {
  const g = ctx.g;
  if (!ctx.flags.bool("cluster")) return g.fs.strings("endpoints");
  const c = await g.client(undefined, false);
  try {
    const r = await c.call(Cluster.method.memberList, {}, { deadline: g.deadline(), idempotent: true });
    return r.members.flatMap((m) => m.clientURLs);
  } catch (e) {
    if (e instanceof ClientError) fail(Exit.Error, `failed to fetch endpoints from etcd cluster member list: ${e.text}`);
    throw e;
  } finally {
    c.close();
  }
}

async function health(g: Globals, ep: string): Promise<EpHealth> {
  let c;
  try {
    c = await g.client([ep]);
  } catch (e) {
    return { ep, health: false, took: "", error: (e as Error).message };
  }
  const st = performance.now();
  try {
    await c.call(KV.method.range, { key: new TextEncoder().encode("health") }, { deadline: g.deadline(), idempotent: true });
    return { ep, health: true, took: goDuration((performance.now() - st) * 1e6), error: "" };
  } catch (e) {
    const took = goDuration((performance.now() - st) * 1e6);
    if (e instanceof ClientError && e.is(Errors.permissionDenied)) return { ep, health: true, took, error: "" };
    return { ep, health: false, took, error: e instanceof ClientError ? e.text : String(e) };
  } finally {
    c.close();
  }
}

export const endpointCommand: Command = {
  name: "endpoint",
  use: "endpoint <subcommand>",
  short: "Endpoint related commands",
  persistentFlags: [CLUSTER_FLAG],
  sub: [
    {
      name: "health",
      use: "health",
      short: "Checks the healthiness of endpoints specified in `--endpoints` flag",
      async run(ctx) {
        const g = ctx.g;
        g.display();
        const eps = await endpointsFromCluster(ctx);
        const list = await Promise.all(eps.map((ep) => health(g, ep)));
        g.display().endpointHealth(list);
        if (list.some((h) => h.error !== "")) fail(Exit.Error, "unhealthy cluster");
      },
    },
    {
      name: "status",
      use: "status",
      short: "Prints out the status of endpoints specified in `--endpoints` flag",
      long: `When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
The items in the lists are endpoint, ID, version, db size, is leader, is learner, raft term, raft index, raft applied index, errors.
`,
      async run(ctx) {
        const g = ctx.g;
        const c = await g.client();
        const list: EpStatus[] = [];
        let failed = false;
        for (const ep of await endpointsFromCluster(ctx)) {
          try {
            list.push({ ep, resp: await c.call(Maintenance.method.status, {}, { deadline: g.deadline(), endpoint: ep, idempotent: true }) });
          } catch (e) {
            if (!(e instanceof ClientError)) throw e;
            failed = true;
            errln(`Failed to get the status of endpoint ${ep} (${e.text})`);
          }
        }
        g.display().endpointStatus(list, StatusResponseSchema);
        c.close();
        if (failed) exitQuietly(Exit.Error);
      },
    },
    {
      name: "hashkv",
      use: "hashkv",
      short: "Prints the KV history hash for each endpoint in --endpoints",
      persistentFlags: [{ name: "rev", type: "int64", def: "0", usage: "maximum revision to hash (default: all revisions)" }],
      async run(ctx) {
        const g = ctx.g;
        const c = await g.client();
        const list: EpHashKV[] = [];
        let last: ClientError | undefined;
        for (const ep of await endpointsFromCluster(ctx)) {
          try {
            list.push({ ep, resp: await c.call(Maintenance.method.hashKV, { revision: ctx.flags.int64("rev") }, { deadline: g.deadline(), endpoint: ep, idempotent: true }) });
          } catch (e) {
            if (!(e instanceof ClientError)) throw e;
            last = e;
            errln(`Failed to get the hash of endpoint ${ep} (${e.text})`);
          }
        }
        g.display().endpointHashKV(list, HashKVResponseSchema);
        c.close();
        if (last) fail(Exit.Error, last.text);
      },
    },
  ],
};

export const alarmCommand: Command = {
  name: "alarm",
  use: "alarm <subcommand>",
  short: "Alarm related commands",
  sub: [
    {
      name: "disarm",
      use: "disarm",
      short: "Disarms all alarms",
      async run({ args, g }) {
        if (args.length !== 0) fail(Exit.BadArgs, "alarm disarm command accepts no arguments");
        const c = await g.client();
        // clientv3.AlarmDisarm with an empty member: list, then deactivate each alarm.
        const list = await callOrFail(g, () => c.call(Maintenance.method.alarm, { action: AlarmRequest_AlarmAction.GET }, { deadline: g.deadline(), idempotent: true }));
        const resp = create(AlarmResponseSchema, {});
        for (const a of list.alarms) {
          const r = await callOrFail(g, () => c.call(Maintenance.method.alarm, { action: AlarmRequest_AlarmAction.DEACTIVATE, memberID: a.memberID, alarm: a.alarm }, { deadline: g.deadline() }));
          resp.alarms.push(...r.alarms);
        }
        g.display().alarm(resp, AlarmResponseSchema);
      },
    },
    {
      name: "list",
      use: "list",
      short: "Lists all alarms",
      async run({ args, g }) {
        if (args.length !== 0) fail(Exit.BadArgs, "alarm list command accepts no arguments");
        const c = await g.client();
        const r = await callOrFail(g, () => c.call(Maintenance.method.alarm, { action: AlarmRequest_AlarmAction.GET, alarm: AlarmType.NONE }, { deadline: g.deadline(), idempotent: true }));
        g.display().alarm(r, AlarmResponseSchema);
      },
    },
  ],
};

export const defragCommand: Command = {
  name: "defrag",
  use: "defrag",
  short: "Defragments the storage of the etcd members with given endpoints",
  persistentFlags: [CLUSTER_FLAG],
  flags: [{ name: "data-dir", type: "string", def: "", usage: "Optional. If present, defragments a data directory not in use by etcd." }],
  async run(ctx) {
    const g = ctx.g;
    const dataDir = ctx.flags.string("data-dir");
    if (dataDir !== "") {
      // Offline: the state file of a member that is not running (refused while one holds the
      // data dir's lock, where etcdctl waits for it). Like etcdctl, nothing is printed on success.
      const { defragmentOffline } = await import("../../../src/storage/index.ts");
      try {
        defragmentOffline(dataDir);
      } catch (e) {
        const why = (e as Error).name === "DirLockedError" ? `a member is running on it: stop it first, or omit --data-dir to defragment the running member` : (e as Error).message;
        errln(`Failed to defragment etcd data[${dataDir}] (${why})`);
        exitQuietly(Exit.Error);
      }
      return;
    }
    const c = await g.client();
    let failures = 0;
    for (const ep of await endpointsFromCluster(ctx)) {
      try {
        await c.call(Maintenance.method.defragment, {}, { deadline: g.deadline(), endpoint: ep });
        outln(`Finished defragmenting etcd member[${ep}]`);
      } catch (e) {
        if (!(e instanceof ClientError)) throw e;
        errln(`Failed to defragment etcd member[${ep}] (${e.text})`);
        failures++;
      }
    }
    c.close();
    if (failures > 0) exitQuietly(Exit.Error);
  },
};

export const moveLeaderCommand: Command = {
  name: "move-leader",
  use: "move-leader <transferee-member-id>",
  short: "Transfers leadership to another etcd cluster member.",
  async run({ args, g }) {
    if (args.length !== 1) fail(Exit.BadArgs, "move-leader command needs 1 argument");
    const a = args[0]!;
    if (!/^[0-9a-fA-F]+$/.test(a)) fail(Exit.BadArgs, `strconv.ParseUint: parsing ${JSON.stringify(a)}: invalid syntax`);
    const target = BigInt(`0x${a}`);
    const eps = await g.endpoints();
    const deadline = g.deadline();
    let leaderEp: string | undefined;
    let leaderId = 0n;
    const c = await g.client();
    for (const ep of eps) {
      const r = await callOrFail(g, () => c.call(Maintenance.method.status, {}, { deadline, endpoint: ep, idempotent: true }));
      if (r.header?.memberId === r.leader) {
        leaderEp = ep;
        leaderId = r.leader;
        break;
      }
    }
    if (leaderEp === undefined) fail(Exit.BadArgs, `no leader endpoint given at [${eps.join(" ")}]`);
    const r = await callOrFail(g, () => c.call(Maintenance.method.moveLeader, { targetID: target }, { deadline, endpoint: leaderEp }));
    g.display().moveLeader(leaderId, target, r, MoveLeaderResponseSchema);
    c.close();
  },
};
