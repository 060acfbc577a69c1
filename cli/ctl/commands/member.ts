// member add / remove / update / list / promote. `member add` prints, besides etcdctl's ETCD_*
// lines, the complete command that starts the new member.
import {
  Cluster, MemberAddResponseSchema, MemberListResponseSchema, MemberPromoteResponseSchema, MemberRemoveResponseSchema, MemberUpdateResponseSchema,
} from "../../../src/gen/rpc_pb.ts";
import type { Command } from "../command.ts";
import { Exit, fail } from "../exit.ts";
import { errln, isTTY, outln } from "../io.ts";
import { callOrFail } from "./util.ts";
import { type AddedMember, envLines, startCommand } from "../../../src/client/member-start.ts";

function memberId(args: string[]): bigint {
  if (args.length !== 1) fail(Exit.BadArgs, "member ID is not provided");
  const a = args[0]!;
  if (!/^[0-9a-fA-F]+$/.test(a)) fail(Exit.BadArgs, `bad member ID arg (strconv.ParseUint: parsing ${JSON.stringify(a)}: invalid syntax), expecting ID in Hex`);
  const v = BigInt(`0x${a}`);
  if (v > 0xffffffffffffffffn) fail(Exit.BadArgs, `bad member ID arg (strconv.ParseUint: parsing ${JSON.stringify(a)}: value out of range), expecting ID in Hex`);
  return v;
}

export const memberCommand: Command = {
  name: "member",
  use: "member <subcommand>",
  short: "Membership related commands",
  sub: [
    {
      name: "add",
      use: "add <memberName> [options]",
      short: "Adds a member into the cluster",
      flags: [
        { name: "peer-urls", type: "string", def: "", usage: "comma separated peer URLs for the new member." },
        { name: "learner", type: "bool", def: "false", usage: "indicates if the new member is raft learner" },
      ],
      async run({ args, flags, g }) {
        if (args.length < 1) fail(Exit.BadArgs, "member name not provided");
        if (args.length > 1) {
          let ev = "too many arguments";
          for (const s of args) if (s.toLowerCase().startsWith("http")) ev += `, did you mean --peer-urls=${s}`;
          fail(Exit.BadArgs, ev);
        }
        const name = args[0]!;
        const peerUrls = flags.string("peer-urls");
        if (peerUrls.length === 0) fail(Exit.BadArgs, "member peer urls not provided");
        const urls = peerUrls.split(",");
        const c = await g.client();
        const r = await callOrFail(g, () => c.call(Cluster.method.memberAdd, { peerURLs: urls, isLearner: flags.bool("learner") }, { deadline: g.deadline() }));
        const d = g.display();
        d.memberChange("added to", r.member?.ID ?? 0n, r, MemberAddResponseSchema);
        if (d.format !== "simple") return;
        const added: AddedMember = {
          name,
          peerURLs: urls,
          id: String(r.member?.ID ?? 0n),
          members: r.members.map((m) => ({ id: String(m.ID), name: m.name, peerURLs: m.peerURLs })),
        };
        outln("");
        for (const l of envLines(added)) outln(l);
        if (isTTY(1) || isTTY(2)) {
          // For people: the whole start command, with the flags etcd and conclave both take.
          errln("");
          errln("Start the new member with (adjust the client URLs and add --data-dir as needed):");
          errln(`  ${startCommand(added)}`);
          if (flags.bool("learner")) errln(`Then promote it once it has caught up: conclave ctl member promote ${r.member?.ID.toString(16)}`);
        }
      },
    },
    {
      name: "remove",
      use: "remove <memberID>",
      short: "Removes a member from the cluster",
      async run({ args, g }) {
        const id = memberId(args);
        const c = await g.client();
        const r = await callOrFail(g, () => c.call(Cluster.method.memberRemove, { ID: id }, { deadline: g.deadline() }));
        g.display().memberChange("removed from", id, r, MemberRemoveResponseSchema);
      },
    },
    {
      name: "update",
      use: "update <memberID> [options]",
      short: "Updates a member in the cluster",
      flags: [{ name: "peer-urls", type: "string", def: "", usage: "comma separated peer URLs for the updated member." }],
      async run({ args, flags, g }) {
        const id = memberId(args);
        const peerUrls = flags.string("peer-urls");
        if (peerUrls.length === 0) fail(Exit.BadArgs, "member peer urls not provided");
        const c = await g.client();
        const r = await callOrFail(g, () => c.call(Cluster.method.memberUpdate, { ID: id, peerURLs: peerUrls.split(",") }, { deadline: g.deadline() }));
        g.display().memberChange("updated in", id, r, MemberUpdateResponseSchema);
      },
    },
    {
      name: "list",
      use: "list",
      short: "Lists all members in the cluster",
      long: `When --write-out is set to simple, this command prints out comma-separated member lists for each endpoint.
The items in the lists are ID, Status, Name, Peer Addrs, Client Addrs, Is Learner.
`,
      async run({ g }) {
        const c = await g.client();
        const r = await callOrFail(g, () => c.call(Cluster.method.memberList, {}, { deadline: g.deadline(), idempotent: true }));
        g.display().memberList(r, MemberListResponseSchema);
      },
    },
    {
      name: "promote",
      use: "promote <memberID>",
      short: "Promotes a non-voting member in the cluster",
      long: `Promotes a non-voting learner member to a voting one in the cluster.
`,
      async run({ args, g }) {
        const id = memberId(args);
        const c = await g.client();
        const r = await callOrFail(g, () => c.call(Cluster.method.memberPromote, { ID: id }, { deadline: g.deadline() }));
        g.display().memberChange("promoted in", id, r, MemberPromoteResponseSchema);
      },
    },
  ],
};
