// etcdctl v2's member list/add/remove/update and cluster-health (ctlv2/command/
// member_commands.go, cluster_health.go), with their texts and exit codes.
import { exchange, MembersApi, type V2Member } from "../../../src/client/v2/index.ts";
import { errln, outln } from "../io.ts";
import type { V2Command, V2Context } from "./app.ts";
import { handleError, stop, V2Exit } from "./output.ts";
import { Session } from "./session.ts";

function session(c: V2Context): Session {
  return new Session(c, process.env);
}

async function members(c: V2Context): Promise<{ s: Session; m: MembersApi }> {
  const s = session(c);
  return { s, m: new MembersApi(await s.client()) };
}

function fail(text: string): never {
  errln(text);
  stop(1);
}

const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));

export const memberCommand: V2Command = {
  name: "member",
  usage: "member add, remove and list subcommands",
  sub: [
    {
      name: "list",
      usage: "enumerate existing cluster members",
      argsUsage: " ",
      async run(c) {
        if (c.args.length !== 0) fail("No arguments accepted");
        const { s, m } = await members(c);
        const deadline = s.deadline();
        let ms: V2Member[];
        try {
          ms = await m.list(deadline);
        } catch (e) {
          fail(msg(e));
        }
        let leader: V2Member;
        try {
          leader = await m.leader(deadline);
        } catch (e) {
          fail(`Failed to get leader:  ${msg(e)}`);
        }
        for (const x of ms) {
          if (x.name === "") outln(`${x.id}[unstarted]: peerURLs=${x.peerURLs.join(",")}`);
          else outln(`${x.id}: name=${x.name} peerURLs=${x.peerURLs.join(",")} clientURLs=${x.clientURLs.join(",")} isLeader=${x.id === leader.id}`);
        }
      },
    },
    {
      name: "add",
      usage: "add a new member to the etcd cluster",
      argsUsage: "<name> <peerURL>",
      async run(c) {
        if (c.args.length !== 2) fail("Provide a name and a single member peerURL");
        const { s, m } = await members(c);
        const deadline = s.deadline();
        const [name, url] = c.args as [string, string];
        let added: V2Member;
        try {
          added = await m.add(url, deadline);
        } catch (e) {
          fail(msg(e));
        }
        outln(`Added member named ${name} with ID ${added.id} to cluster`);
        let ms: V2Member[];
        try {
          ms = await m.list(deadline);
        } catch (e) {
          fail(msg(e));
        }
        const conf: string[] = [];
        for (const x of ms) for (const u of x.peerURLs) conf.push(`${x.id === added.id ? name : x.name}=${u}`);
        outln("");
        outln(`ETCD_NAME=${JSON.stringify(name)}`);
        outln(`ETCD_INITIAL_CLUSTER=${JSON.stringify(conf.join(","))}`);
        outln(`ETCD_INITIAL_CLUSTER_STATE="existing"`);
      },
    },
    {
      name: "remove",
      usage: "remove an existing member from the etcd cluster",
      argsUsage: "<memberID>",
      async run(c) {
        if (c.args.length !== 1) fail("Provide a single member ID");
        const id = c.args[0]!;
        const { s, m } = await members(c);
        const deadline = s.deadline();
        let ms: V2Member[];
        try {
          ms = await m.list(deadline);
        } catch (e) {
          fail(`Error while verifying ID against known members: ${msg(e)}`);
        }
        let found = false;
        for (const x of ms) {
          if (x.id === id) found = true;
          if (x.name === id) {
            process.stderr.write(`Found a member named ${x.name}; if this is correct, please use its ID, eg:\n\tetcdctl member remove ${x.id}\n`);
            process.stderr.write("For more details, read the documentation at https://github.com/etcd-io/etcd/blob/master/Documentation/runtime-configuration.md#remove-a-member\n\n");
          }
        }
        if (!found) {
          process.stderr.write(`Couldn't find a member in the cluster with an ID of ${id}.\n`);
          stop(1);
        }
        try {
          await m.remove(id, deadline);
        } catch (e) {
          process.stderr.write(`Received an error trying to remove member ${id}: ${msg(e)}`);
          stop(1);
        }
        outln(`Removed member ${id} from cluster`);
      },
    },
    {
      name: "update",
      usage: "update an existing member in the etcd cluster",
      argsUsage: "<memberID> <peerURLs>",
      async run(c) {
        if (c.args.length !== 2) fail("Provide an ID and a list of comma separated peerURL (0xabcd http://example.com,http://example1.com)");
        const { s, m } = await members(c);
        const [id, urls] = c.args as [string, string];
        try {
          await m.update(id, urls.split(","), s.deadline());
        } catch (e) {
          fail(msg(e));
        }
        outln(`Updated member with ID ${id} in cluster`);
      },
    },
  ],
};

/** GET <url>/health with the command's TLS settings; the member counts as healthy on "true". */
async function checkHealth(s: Session, url: string): Promise<{ ok: boolean } | { error: string }> {
  let r;
  try {
    const u = new URL(`${url}/health`);
    r = await exchange({ method: "GET", url: u, headers: {} }, { headerTimeoutMs: 0, dialTimeoutMs: 30_000, tls: s.transportTls(), deadline: Date.now() + 30_000 });
  } catch (e) {
    return { error: `Get "${url}/health": ${msg(e)}` };
  }
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(r.body));
  } catch {
    return { error: "invalid character in health answer" };
  }
  const h = (body as { health?: unknown } | null)?.health;
  return { ok: h === "true" || h === true };
}

export const clusterHealthCommand: V2Command = {
  name: "cluster-health",
  usage: "check the health of the etcd cluster",
  argsUsage: " ",
  flags: [{ names: "forever, f", type: "bool", usage: "forever check the health every 10 second until CTRL+C" }],
  async run(c) {
    const forever = c.flags.bool("forever");
    if (forever) process.once("SIGINT", () => process.exit(0));
    const s = session(c);
    const m = new MembersApi(await s.clientNoSync());
    let ms: V2Member[];
    try {
      ms = await m.list(undefined);
    } catch (e) {
      outln("cluster may be unhealthy: failed to list members");
      handleError(V2Exit.ServerError, e);
    }
    for (;;) {
      let healthy = 0;
      for (const x of ms) {
        if (x.clientURLs.length === 0) {
          outln(`member ${x.id} is unreachable: no available published client urls`);
          continue;
        }
        let checked = false;
        for (const url of x.clientURLs) {
          const r = await checkHealth(s, url);
          if ("error" in r) {
            outln(`failed to check the health of member ${x.id} on ${url}: ${r.error}`);
            continue;
          }
          checked = true;
          if (r.ok) {
            outln(`member ${x.id} is healthy: got healthy result from ${url}`);
            healthy++;
          } else outln(`member ${x.id} is unhealthy: got unhealthy result from ${url}`);
          break;
        }
        if (!checked) outln(`member ${x.id} is unreachable: [${x.clientURLs.join(" ")}] are all unreachable`);
      }
      if (healthy === ms.length) outln("cluster is healthy");
      else if (healthy === 0) outln("cluster is unavailable");
      else outln("cluster is degraded");
      if (!forever) stop(healthy === ms.length ? V2Exit.Success : V2Exit.ClusterNotHealthy);
      outln("\nnext check after 10 second...\n");
      await new Promise((r) => setTimeout(r, 10_000));
    }
  },
};
