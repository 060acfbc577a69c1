// The command tree of `conclave ctl` (etcdctl 3.4's v3 commands).
import type { Command } from "../command.ts";
import { authCommand, roleCommand, userCommand } from "./auth.ts";
import { checkCommand } from "./check.ts";
import { compactionCommand, delCommand, getCommand, putCommand, txnCommand } from "./kv.ts";
import { leaseCommand } from "./lease.ts";
import { electCommand, lockCommand } from "./lock-elect.ts";
import { alarmCommand, defragCommand, endpointCommand, moveLeaderCommand } from "./maintenance.ts";
import { memberCommand } from "./member.ts";
import { completionCommand, makeMirrorCommand, versionCommand } from "./misc.ts";
import { snapshotCommand } from "./snapshot.ts";
import { watchCommand } from "./watch.ts";

export function commandTree(): Command {
  return {
    name: "etcdctl",
    use: "etcdctl",
    short: "A simple command line client for etcd3.",
    sub: [
      getCommand, putCommand, delCommand, txnCommand, compactionCommand, alarmCommand, defragCommand, endpointCommand,
      moveLeaderCommand, watchCommand, versionCommand, leaseCommand, memberCommand, snapshotCommand, makeMirrorCommand,
      lockCommand, electCommand, authCommand, userCommand, roleCommand, checkCommand, completionCommand,
    ],
  };
}
