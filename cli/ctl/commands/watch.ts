// watch [key [range_end]] [-- command args...], and -i (interactive: "watch …" / "progress" lines).
import { bytes, type ClientError, Watcher, type WatchOptions, isProgressNotify, prefixEnd } from "../../../src/client/index.ts";
import { Event_EventType } from "../../../src/gen/kv_pb.ts";
import type { Command } from "../command.ts";
import { Exit, fail } from "../exit.ts";
import { FlagError, FlagSet, parseArgs, type FlagDef } from "../flags.ts";
import type { Globals } from "../globals.ts";
import { goQuote } from "../go-format.ts";
import { errln, LineReader, outln } from "../io.ts";
import { argify } from "./kv.ts";

const WATCH_FLAGS: FlagDef[] = [
  { name: "interactive", short: "i", type: "bool", def: "false", usage: "Interactive mode" },
  { name: "prefix", type: "bool", def: "false", usage: "Watch on a prefix if prefix is set" },
  { name: "rev", type: "int64", def: "0", usage: "Revision to start watching" },
  { name: "prev-kv", type: "bool", def: "false", usage: "get the previous key-value pair before the event happens" },
];

function watchOptions(args: string[], f: FlagSet): WatchOptions {
  if (args.length < 1) fail(Exit.BadArgs, "bad number of arguments");
  const key = bytes(args[0]!);
  const o: WatchOptions = { key, startRevision: f.int64("rev"), prevKv: f.bool("prev-kv"), requireLeader: true };
  if (args.length === 2) {
    if (f.bool("prefix")) fail(Exit.BadArgs, "`range_end` and `--prefix` are mutually exclusive");
    o.rangeEnd = bytes(args[1]!);
  }
  if (f.bool("prefix")) o.rangeEnd = key.length === 0 ? new Uint8Array([0]) : prefixEnd(key);
  if (f.bool("prefix") && key.length === 0) o.key = new Uint8Array([0]);
  return o;
}

/** Prints every response of one watch (and runs the exec command per event); resolves when it ends. */
async function runWatch(g: Globals, w: Watcher, o: WatchOptions, exec: string[]): Promise<ClientError | undefined> {
  const d = g.display();
  // node:child_process only for the exec form (loading it costs every one-shot command).
  const { spawnSync } = exec.length > 0 ? await import("node:child_process") : { spawnSync: undefined };
  return new Promise((resolve) => {
    w.watch(o, (u) => {
      const r = u.response;
      if (r.canceled) errln(`watch was canceled (${u.error?.text ?? ""})`);
      if (isProgressNotify(r)) outln(`progress notify: ${r.header?.revision ?? 0n}`);
      d.watch(r);
      if (exec.length > 0) {
        for (const ev of r.events) {
          const env = {
            ...process.env,
            ETCD_WATCH_REVISION: String(r.header?.revision ?? 0n),
            ETCD_WATCH_EVENT_TYPE: goQuote(Event_EventType[ev.type]),
            ETCD_WATCH_KEY: goQuote(ev.kv?.key ?? new Uint8Array()),
            ETCD_WATCH_VALUE: goQuote(ev.kv?.value ?? new Uint8Array()),
          };
          const res = spawnSync!(exec[0]!, exec.slice(1), { env, stdio: "inherit" });
          if (res.error || res.status !== 0) {
            const why = res.error ? (res.error as Error).message : `exit status ${res.status}`;
            errln(`command [${exec.map((a) => goQuote(a)).join(" ")}] error (${why})`);
            process.exit(1);
          }
        }
      }
    }, (err) => resolve(err));
  });
}

export const watchCommand: Command = {
  name: "watch",
  use: "watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]",
  short: "Watches events stream on keys or prefixes",
  flags: WATCH_FLAGS,
  async run({ args, dashAt, flags, g }) {
    const envKey = process.env.ETCDCTL_WATCH_KEY ?? "";
    const envRange = process.env.ETCDCTL_WATCH_RANGE_END ?? "";
    if (envKey === "" && envRange !== "") fail(Exit.BadArgs, `ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END=${JSON.stringify(envRange)}`);
    if (flags.bool("interactive")) return interactive(g, envKey, envRange);
    let watchArgs = dashAt >= 0 ? args.slice(0, dashAt) : args;
    const exec = dashAt >= 0 ? args.slice(dashAt) : [];
    if (dashAt >= 0 && exec.length === 0) fail(Exit.BadArgs, "bad number of arguments (found separator --, but no commands)");
    if (watchArgs.length > 0 && envKey !== "") fail(Exit.BadArgs, "bad number of arguments (found conflicting environment key)");
    if (envKey !== "") watchArgs = envRange !== "" ? [envKey, envRange] : [envKey];
    if (watchArgs.length === 0) fail(Exit.BadArgs, "bad number of arguments");
    const o = watchOptions(watchArgs, flags);
    g.display();
    const c = await g.client();
    const w = new Watcher(c);
    await runWatch(g, w, o, exec);
    w.close();
    c.close();
    fail(Exit.Interrupted, "watch is canceled by the server");
  },
};

async function interactive(g: Globals, envKey: string, envRange: string): Promise<number> {
  const c = await g.client();
  const w = new Watcher(c);
  const reader = new LineReader();
  for (;;) {
    const l = await reader.line();
    if (l === undefined || l.eof) fail(Exit.InvalidInput, `Error reading watch request line: EOF`);
    const line = l.text.replace(/\n$/, "");
    const a = argify(line);
    if (a.length < 1) {
      errln(`Invalid command: ${line} (watch and progress supported)`);
      continue;
    }
    if (a[0] === "progress") {
      w.requestProgress();
      continue;
    }
    if (a[0] !== "watch") {
      errln(`Invalid command ${line} (only support watch)`);
      continue;
    }
    if (a.length < 2 && envKey === "") {
      errln(`Invalid command ${line} (command type or key is not provided)`);
      continue;
    }
    const fs = new FlagSet(WATCH_FLAGS);
    let parsed;
    try {
      parsed = parseArgs(fs, a.slice(1));
    } catch (e) {
      if (e instanceof FlagError) fail(Exit.BadArgs, e.message);
      throw e;
    }
    let wargs = parsed.dashAt >= 0 ? parsed.positional.slice(0, parsed.dashAt) : parsed.positional;
    const exec = parsed.dashAt >= 0 ? parsed.positional.slice(parsed.dashAt) : [];
    if (envKey !== "") wargs = [...(envRange !== "" ? [envKey, envRange] : [envKey]), ...wargs];
    let o: WatchOptions;
    try {
      o = watchOptions(wargs, fs);
    } catch (e) {
      errln(`Invalid command ${line} (${(e as Error).message})`);
      continue;
    }
    void runWatch(g, w, o, exec);
  }
}
