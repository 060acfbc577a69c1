// etcdctl v2's key commands: set, mk, mkdir, setdir, update, updatedir, rm, rmdir, get, ls,
// watch, exec-watch (ctlv2/command/*_command.go), with their arguments, outputs and exits.
import { spawn } from "node:child_process";
import { KeysApi, type PrevExist, type V2Node, type V2Response } from "../../../src/client/v2/index.ts";
import { errln, outln, readStdin } from "../io.ts";
import type { V2Command, V2Context, V2FlagDef } from "./app.ts";
import { handleError, printResponseKey, stop, V2Exit } from "./output.ts";
import { Session } from "./session.ts";

const ttl: V2FlagDef = { names: "ttl", type: "int", usage: "key time-to-live in seconds", def: "0" };

function session(c: V2Context): Session {
  return new Session(c, process.env);
}

async function keys(c: V2Context): Promise<{ s: Session; k: KeysApi }> {
  const s = session(c);
  return { s, k: new KeysApi(await s.client()) };
}

function keyArg(c: V2Context): string {
  if (c.args.length === 0) handleError(V2Exit.BadArgs, new Error("key required"));
  return c.args[0]!;
}

/** argOrStdin: the argument, else all of standard input (nothing there: "value required"). */
async function valueArg(c: V2Context, i: number): Promise<string> {
  if (i < c.args.length) return c.args[i]!;
  const b = await readStdin().catch(() => new Uint8Array(0));
  if (b.length === 0) handleError(V2Exit.BadArgs, new Error("value required"));
  return new TextDecoder().decode(b);
}

async function call<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    handleError(V2Exit.ServerError, e);
  }
}

const setCommand: V2Command = {
  name: "set",
  usage: "set the value of a key",
  argsUsage: "<key> <value>",
  description: `Set sets the value of a key.

   When <value> begins with '-', <value> is interpreted as a flag.
   Insert '--' for workaround:

   $ set -- <key> <value>`,
  flags: [
    ttl,
    { names: "swap-with-value", type: "string", usage: "previous value" },
    { names: "swap-with-index", type: "int", usage: "previous index", def: "0" },
  ],
  async run(c) {
    const key = keyArg(c);
    const value = await valueArg(c, 1);
    const { s, k } = await keys(c);
    const r = await call(() =>
      k.set(key, value, { ttlSeconds: c.flags.int("ttl"), prevIndex: c.flags.int("swap-with-index"), prevValue: c.flags.string("swap-with-value") }, s.deadline()),
    );
    printResponseKey(r, s.format);
  },
};

const mkCommand: V2Command = {
  name: "mk",
  usage: "make a new key with a given value",
  argsUsage: "<key> <value>",
  flags: [{ names: "in-order", type: "bool", usage: "create in-order key under directory <key>" }, ttl],
  async run(c) {
    const key = keyArg(c);
    const value = await valueArg(c, 1);
    const { s, k } = await keys(c);
    const r = c.flags.bool("in-order")
      ? await call(() => k.createInOrder(key, value, c.flags.int("ttl"), s.deadline()))
      : await call(() => k.set(key, value, { ttlSeconds: c.flags.int("ttl"), prevExist: "false" }, s.deadline()));
    printResponseKey(r, s.format);
  },
};

function dirCommand(name: string, usage: string, prevExist: PrevExist, argsUsage = "<key>"): V2Command {
  return {
    name,
    usage,
    argsUsage,
    flags: [ttl],
    async run(c) {
      const key = keyArg(c);
      const { s, k } = await keys(c);
      const r = await call(() => k.set(key, "", { ttlSeconds: c.flags.int("ttl"), dir: true, prevExist }, s.deadline()));
      if (s.format !== "simple") printResponseKey(r, s.format);
    },
  };
}

const updateCommand: V2Command = {
  name: "update",
  usage: "update an existing key with a given value",
  argsUsage: "<key> <value>",
  flags: [ttl],
  async run(c) {
    const key = keyArg(c);
    const value = await valueArg(c, 1);
    const { s, k } = await keys(c);
    const r = await call(() => k.set(key, value, { ttlSeconds: c.flags.int("ttl"), prevExist: "true" }, s.deadline()));
    printResponseKey(r, s.format);
  },
};

const rmCommand: V2Command = {
  name: "rm",
  usage: "remove a key or a directory",
  argsUsage: "<key>",
  flags: [
    { names: "dir", type: "bool", usage: "removes the key if it is an empty directory or a key-value pair" },
    { names: "recursive, r", type: "bool", usage: "removes the key and all child keys(if it is a directory)" },
    { names: "with-value", type: "string", usage: "previous value" },
    { names: "with-index", type: "int", usage: "previous index", def: "0" },
  ],
  async run(c) {
    const key = keyArg(c);
    const { s, k } = await keys(c);
    const r = await call(() =>
      k.delete(key, { prevIndex: c.flags.int("with-index"), prevValue: c.flags.string("with-value"), dir: c.flags.bool("dir"), recursive: c.flags.bool("recursive") }, s.deadline()),
    );
    if (!r.node?.dir || s.format !== "simple") printResponseKey(r, s.format);
  },
};

const rmdirCommand: V2Command = {
  name: "rmdir",
  usage: "removes the key if it is an empty directory or a key-value pair",
  argsUsage: "<key>",
  async run(c) {
    const key = keyArg(c);
    const { s, k } = await keys(c);
    const r = await call(() => k.delete(key, { dir: true }, s.deadline()));
    if (!r.node?.dir || s.format !== "simple") printResponseKey(r, s.format);
  },
};

const getCommand: V2Command = {
  name: "get",
  usage: "retrieve the value of a key",
  argsUsage: "<key>",
  flags: [
    { names: "sort", type: "bool", usage: "returns result in sorted order" },
    { names: "quorum, q", type: "bool", usage: "require quorum for get request" },
  ],
  async run(c) {
    const key = keyArg(c);
    const { s, k } = await keys(c);
    const r = await call(() => k.get(key, { sort: c.flags.bool("sort"), quorum: c.flags.bool("quorum") }, s.deadline()));
    if (r.node?.dir) {
      errln(`${r.node.key}: is a directory`);
      stop(1);
    }
    printResponseKey(r, s.format);
  },
};

const lsCommand: V2Command = {
  name: "ls",
  usage: "retrieve a directory",
  argsUsage: "[key]",
  flags: [
    { names: "sort", type: "bool", usage: "returns result in sorted order" },
    { names: "recursive, r", type: "bool", usage: "returns all key names recursively for the given path" },
    { names: "p", type: "bool", usage: "append slash (/) to directories" },
    { names: "quorum, q", type: "bool", usage: "require quorum for get request" },
  ],
  async run(c) {
    const key = c.args.length !== 0 ? c.args[0]! : "/";
    const { s, k } = await keys(c);
    const r = await call(() => k.get(key, { sort: c.flags.bool("sort"), recursive: c.flags.bool("recursive"), quorum: c.flags.bool("quorum") }, s.deadline()));
    if (s.format !== "simple") return printResponseKey(r, s.format);
    if (!r.node?.dir) outln(r.node?.key ?? "");
    const slash = c.flags.bool("p");
    const print = (n: V2Node) => {
      outln(n.dir && slash ? `${n.key}/` : n.key);
      for (const x of n.nodes ?? []) print(x);
    };
    for (const n of r.node?.nodes ?? []) print(n);
  },
};

const watchCommand: V2Command = {
  name: "watch",
  usage: "watch a key for changes",
  argsUsage: "<key>",
  flags: [
    { names: "forever, f", type: "bool", usage: "forever watch a key until CTRL+C" },
    { names: "after-index", type: "int", usage: "watch after the given index", def: "0" },
    { names: "recursive, r", type: "bool", usage: "returns all values for key and child keys" },
  ],
  async run(c) {
    const key = keyArg(c);
    const recursive = c.flags.bool("recursive");
    const { s, k } = await keys(c);
    process.once("SIGINT", () => process.exit(0));
    const w = k.watcher(key, { afterIndex: c.flags.int("after-index"), recursive });
    for (;;) {
      const r = await call(() => w.next());
      if (r.node?.dir) continue;
      if (recursive) outln(`[${r.action}] ${r.node?.key ?? ""}`);
      printResponseKey(r, s.format);
      if (!c.flags.bool("forever")) return;
    }
  },
};

/**
 * The key and the command of exec-watch. etcdctl's argument reordering moves "--" in front of
 * everything when no flag precedes the key, so `exec-watch KEY -- CMD` watches the last word of
 * CMD there; here a "--" right after the key is honoured in both cases (the form etcdctl's help
 * gives), and `exec-watch CMD… KEY` (the form etcdctl then accepts) works as in etcdctl.
 */
function execWatchArgs(c: V2Context, raw: string[]): { key: string; cmd: string[] } {
  const args = c.args;
  if (args.length < 2) handleError(V2Exit.BadArgs, new Error("key and command to exec required"));
  if (args.indexOf("--", 1) > 0) return { key: args[0]!, cmd: args.slice(2) };
  const sep = raw.indexOf("--");
  if (sep > 0 && raw[sep - 1] === args[0]) return { key: args[0]!, cmd: args.slice(1) };
  return { key: args[args.length - 1]!, cmd: args.slice(0, -1) };
}

export function execWatchCommand(raw: () => string[]): V2Command {
  return {
    name: "exec-watch",
    usage: "watch a key for changes and exec an executable",
    argsUsage: "<key> <command> [args...]",
    flags: [
      { names: "after-index", type: "int", usage: "watch after the given index", def: "0" },
      { names: "recursive, r", type: "bool", usage: "watch all values for key and child keys" },
    ],
    async run(c) {
      const { key, cmd } = execWatchArgs(c, raw());
      const { k } = await keys(c);
      process.once("SIGINT", () => process.exit(0));
      const w = k.watcher(key, { afterIndex: c.flags.int("after-index"), recursive: c.flags.bool("recursive") });
      for (;;) {
        const r: V2Response = await call(() => w.next());
        if (r.node?.dir) {
          process.stderr.write(`Ignored dir ${r.node.key} change\n`);
          continue;
        }
        const env = {
          ...process.env,
          ETCD_WATCH_ACTION: r.action,
          ETCD_WATCH_MODIFIED_INDEX: String(r.node?.modifiedIndex ?? 0),
          ETCD_WATCH_KEY: r.node?.key ?? "",
          ETCD_WATCH_VALUE: r.node?.value ?? "",
        };
        const child = spawn(cmd[0]!, cmd.slice(1), { env, stdio: ["ignore", "inherit", "inherit"] });
        child.on("error", (e) => {
          process.stderr.write((e as Error).message);
          process.exit(1);
        });
      }
    },
  };
}

export const keyCommands: V2Command[] = [
  mkCommand,
  dirCommand("mkdir", "make a new directory", "false"),
  rmCommand,
  rmdirCommand,
  getCommand,
  lsCommand,
  setCommand,
  dirCommand("setdir", "create a new directory or update an existing directory TTL", ""),
  updateCommand,
  dirCommand("updatedir", "update an existing directory", "true", "<key> <value>"),
  watchCommand,
];
