// lease grant / revoke / timetolive / list / keep-alive.
import { Lease, LeaseRevokeResponseSchema } from "../../../src/gen/rpc_pb.ts";
import { keepAlive, keepAliveOnce } from "../../../src/client/index.ts";
import type { Command } from "../command.ts";
import { Exit, fail } from "../exit.ts";
import { outln } from "../io.ts";
import { leaseHex } from "../go-format.ts";
import { parseDecimal, parseGoIntBase16 } from "./kv.ts";
import { callOrFail } from "./util.ts";

function leaseFromArg(a: string): bigint {
  const id = parseGoIntBase16(a);
  if (typeof id === "string") fail(Exit.BadArgs, `bad lease ID arg (${id}), expecting ID in Hex`);
  return id;
}

const LONG = 3_600_000 * 24 * 365;

export const leaseCommand: Command = {
  name: "lease",
  use: "lease <subcommand>",
  short: "Lease related commands",
  sub: [
    {
      name: "grant",
      use: "grant <ttl>",
      short: "Creates leases",
      async run({ args, g }) {
        if (args.length !== 1) fail(Exit.BadArgs, "lease grant command needs TTL argument");
        const ttl = parseDecimal(args[0]!);
        if (typeof ttl === "string") fail(Exit.BadArgs, `bad TTL (${ttl})`);
        const c = await g.client();
        const r = await callOrFail(g, () => c.call(Lease.method.leaseGrant, { TTL: ttl }, { deadline: g.deadline() }), Exit.Error, (t) => `failed to grant lease (${t})`);
        g.display().grant(r);
      },
    },
    {
      name: "revoke",
      use: "revoke <leaseID>",
      short: "Revokes leases",
      async run({ args, g }) {
        if (args.length !== 1) fail(Exit.BadArgs, "lease revoke command needs 1 argument");
        const id = leaseFromArg(args[0]!);
        const c = await g.client();
        const r = await callOrFail(g, () => c.call(Lease.method.leaseRevoke, { ID: id }, { deadline: g.deadline() }), Exit.Error, (t) => `failed to revoke lease (${t})`);
        g.display().revoke(id, r, LeaseRevokeResponseSchema);
      },
    },
    {
      name: "timetolive",
      use: "timetolive <leaseID> [options]",
      short: "Get lease information",
      flags: [{ name: "keys", type: "bool", def: "false", usage: "Get keys attached to this lease" }],
      async run({ args, flags, g }) {
        if (args.length !== 1) fail(Exit.BadArgs, "lease timetolive command needs lease ID as argument");
        const id = leaseFromArg(args[0]!);
        const c = await g.client();
        const keys = flags.bool("keys");
        const r = await callOrFail(g, () => c.call(Lease.method.leaseTimeToLive, { ID: id, keys }, { deadline: Date.now() + LONG, idempotent: true }), Exit.BadConnection);
        g.display().timeToLive(r, keys);
      },
    },
    {
      name: "list",
      use: "list",
      short: "List all active leases",
      async run({ g }) {
        const c = await g.client();
        const r = await callOrFail(g, () => c.call(Lease.method.leaseLeases, {}, { deadline: Date.now() + LONG, idempotent: true }), Exit.BadConnection);
        g.display().leases(r);
      },
    },
    {
      name: "keep-alive",
      use: "keep-alive [options] <leaseID>",
      short: "Keeps leases alive (renew)",
      flags: [{ name: "once", type: "bool", def: "false", usage: "Resets the keep-alive time to its original value and exits immediately" }],
      async run({ args, flags, g }) {
        if (args.length !== 1) fail(Exit.BadArgs, "lease keep-alive command needs lease ID as argument");
        const id = leaseFromArg(args[0]!);
        const c = await g.client();
        const d = g.display();
        if (flags.bool("once")) {
          const r = await callOrFail(g, () => keepAliveOnce(c, id, Date.now() + LONG), Exit.BadConnection);
          d.keepAlive(r);
          c.close();
          return;
        }
        const h = keepAlive(c, id, (r) => d.keepAlive(r));
        const stop = () => h.stop();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
        const err = await h.done;
        c.close();
        if (err) fail(Exit.BadConnection, err.text);
        if (d.format === "simple") outln(`lease ${leaseHex(id)} expired or revoked.`);
      },
    },
  ],
};
