// `conclave ctl v2 …` / ETCDCTL_API=2: etcdctl 3.4's v2 commands over the v2 HTTP API, with
// its global flags, ETCDCTL_* variables, output formats (-o simple|extended|json), texts and
// exit codes. main() returns the exit code.
import { closeIdle } from "../../../src/client/v2/index.ts";
import { CTL_VERSION } from "../command.ts";
import { errln, out, outln } from "../io.ts";
import { appHelp, commandHelp, parseFlags, reorderArgs, UsageError, type V2Command, V2Flags, type V2FlagDef } from "./app.ts";
import { authCommand, roleCommand, userCommand } from "./auth-commands.ts";
import { clusterHealthCommand, memberCommand } from "./cluster-commands.ts";
import { execWatchCommand, keyCommands } from "./keys-commands.ts";
import { V2Stop } from "./output.ts";

const GLOBALS: V2FlagDef[] = [
  { names: "debug", type: "bool", usage: "output cURL commands which can be used to reproduce the request" },
  { names: "no-sync", type: "bool", usage: "don't synchronize cluster information before sending request" },
  { names: "output, o", type: "string", def: "simple", usage: "output response in the given format (`simple`, `extended` or `json`)" },
  { names: "discovery-srv, D", type: "string", usage: "domain name to query for SRV records describing cluster endpoints" },
  { names: "insecure-discovery", type: "bool", usage: "accept insecure SRV records describing cluster endpoints" },
  { names: "peers, C", type: "string", usage: 'DEPRECATED - "--endpoints" should be used instead' },
  { names: "endpoint", type: "string", usage: 'DEPRECATED - "--endpoints" should be used instead' },
  { names: "endpoints", type: "string", usage: 'a comma-delimited list of machine addresses in the cluster (default: "http://127.0.0.1:2379,http://127.0.0.1:4001")' },
  { names: "cert-file", type: "string", usage: "identify HTTPS client using this SSL certificate file" },
  { names: "key-file", type: "string", usage: "identify HTTPS client using this SSL key file" },
  { names: "ca-file", type: "string", usage: "verify certificates of HTTPS-enabled servers using this CA bundle" },
  { names: "username, u", type: "string", usage: "provide username[:password] and prompt if password is not supplied." },
  { names: "timeout", type: "duration", def: "2s", usage: "connection timeout per request" },
  { names: "total-timeout", type: "duration", def: "5s", usage: "timeout for the command execution (except watch)" },
];

const HELP: V2FlagDef = { names: "help, h", type: "bool", usage: "show help" };
const VERSION: V2FlagDef = { names: "version, v", type: "bool", usage: "print the version" };

const backupCommand: V2Command = {
  name: "backup",
  usage: "backup an etcd directory",
  argsUsage: " ",
  flags: [
    { names: "data-dir", type: "string", usage: "Path to the etcd data dir" },
    { names: "wal-dir", type: "string", usage: "Path to the etcd wal dir" },
    { names: "backup-dir", type: "string", usage: "Path to the backup dir" },
    { names: "backup-wal-dir", type: "string", usage: "Path to the backup wal dir" },
    { names: "with-v3", type: "bool", usage: "Backup v3 backend data" },
  ],
  async run() {
    errln("backup copies an etcd v2 data dir (its WAL and snap files), which a Conclave data dir does not have; take a snapshot instead: conclave ctl snapshot save <file>");
    return 1;
  },
};

function tree(raw: () => string[]): V2Command[] {
  const k = Object.fromEntries(keyCommands.map((c) => [c.name, c]));
  // etcdctl's order, which its help lists.
  return [
    backupCommand, clusterHealthCommand, k.mk!, k.mkdir!, k.rm!, k.rmdir!, k.get!, k.ls!, k.set!, k.setdir!, k.update!, k.updatedir!, k.watch!,
    execWatchCommand(raw), memberCommand, userCommand, roleCommand, authCommand,
  ];
}

export async function mainV2(args: string[], prog = "conclave ctl"): Promise<number> {
  try {
    return await run(args, prog);
  } catch (e) {
    if (e instanceof V2Stop) return e.code;
    errln(e instanceof Error ? e.message : String(e));
    return 1;
  } finally {
    closeIdle();
  }
}

async function run(args: string[], prog: string): Promise<number> {
  let raw: string[] = [];
  const commands = tree(() => raw);
  const global = new V2Flags([...GLOBALS, HELP, VERSION]);
  let rest: string[];
  try {
    rest = parseFlags(global, args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    outln(`Incorrect Usage. ${e.message}`);
    outln("");
    out(appHelp(prog, "A simple command line client for etcd.", CTL_VERSION, commands, GLOBALS));
    errln(e.message);
    return 1;
  }
  if (global.bool("version")) {
    outln(`etcdctl version: ${CTL_VERSION}`);
    outln("API version: 2");
    return 0;
  }
  const name = rest[0];
  if (name === undefined || global.bool("help")) {
    out(appHelp(prog, "A simple command line client for etcd.", CTL_VERSION, commands, GLOBALS));
    return 0;
  }
  const find = (list: V2Command[], n: string) => list.find((c) => c.name === n);
  if (name === "help" || name === "h") {
    const topic = rest[1];
    if (topic === undefined) {
      out(appHelp(prog, "A simple command line client for etcd.", CTL_VERSION, commands, GLOBALS));
      return 0;
    }
    const c = find(commands, topic);
    if (c === undefined) return noTopic(topic);
    out(c.sub ? groupUsage(prog, c) : commandHelp(prog, [c.name], c));
    return 0;
  }
  let cmd = find(commands, name);
  if (cmd === undefined) return noTopic(name);
  const path = [name];
  let cmdArgs = rest.slice(1);
  if (cmd.sub) {
    // A command with subcommands is an app of its own: its --help, then the subcommand.
    const groupFlags = new V2Flags([HELP]);
    try {
      cmdArgs = parseFlags(groupFlags, cmdArgs);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      outln(`Incorrect Usage. ${e.message}`);
      outln("");
      out(commandHelp(prog, path, cmd));
      errln(e.message);
      return 1;
    }
    const subName = cmdArgs[0];
    if (subName === undefined || groupFlags.bool("help")) {
      out(commandHelp(prog, path, cmd));
      return 0;
    }
    if (subName === "help" || subName === "h") {
      const topic = cmdArgs[1];
      const s = topic === undefined ? undefined : find(cmd.sub, topic);
      if (topic === undefined) out(commandHelp(prog, path, cmd));
      else if (s === undefined) return noTopic(topic);
      else out(commandHelp(prog, [...path, s.name], s));
      return 0;
    }
    const sub = find(cmd.sub, subName);
    if (sub === undefined) return noTopic(subName);
    cmd = sub;
    path.push(subName);
    cmdArgs = cmdArgs.slice(1);
  }
  raw = cmdArgs;
  const flags = new V2Flags([...(cmd.flags ?? []), HELP]);
  let positional: string[];
  try {
    positional = parseFlags(flags, reorderArgs(flags, cmdArgs));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    outln(`Incorrect Usage: ${e.message}`);
    outln("");
    out(commandHelp(prog, path, cmd));
    errln(e.message);
    return 1;
  }
  if (flags.bool("help")) {
    out(commandHelp(prog, path, cmd));
    return 0;
  }
  const code = await cmd.run!({ args: positional, flags, global, path });
  return code ?? 0;
}

function noTopic(name: string): number {
  errln(`No help topic for '${name}'`);
  return 3;
}

/** `help <group>`: urfave shows the group's help through the app's command template. */
function groupUsage(prog: string, c: V2Command): string {
  return `NAME:\n   ${prog} ${c.name} - ${c.usage}\n\nUSAGE:\n   ${prog} ${c.name} [arguments...]\n`;
}
