// The command tree (cobra's model): each command has a name, usage line, short/long help, its
// own flags and either subcommands or a run function. Lookup accepts unique prefixes of command
// names (etcdctl enables cobra's prefix matching).
import type { FlagDef, FlagSet } from "./flags.ts";
import type { Globals } from "./globals.ts";
import { tabwrite } from "./tabwriter.ts";

export const CTL_VERSION = "3.4.23";
export const API_VERSION = "3.4";

export interface RunContext {
  /** Positional arguments (after flags are removed). */
  args: string[];
  /** Index in args where "--" stood, or -1. */
  dashAt: number;
  flags: FlagSet;
  /** Arguments after the command path, as typed (watch reads "--" from them). */
  rawArgs: string[];
  cmd: Command;
  g: Globals;
}

export interface Command {
  name: string;
  use: string;
  short: string;
  long?: string;
  /** Flags of this command only. */
  flags?: FlagDef[];
  /** Flags this command passes down to its subcommands (endpoint --cluster). */
  persistentFlags?: FlagDef[];
  sub?: Command[];
  run?: (ctx: RunContext) => Promise<number | void>;
  parent?: Command;
}

export function link(cmd: Command, parent?: Command): Command {
  cmd.parent = parent;
  for (const s of cmd.sub ?? []) link(s, cmd);
  return cmd;
}

/** Finds a direct subcommand by exact name or unique prefix. */
export function findSub(cmd: Command, name: string): Command | undefined {
  const subs = cmd.sub ?? [];
  const exact = subs.find((s) => s.name === name);
  if (exact) return exact;
  const pre = subs.filter((s) => s.name.startsWith(name));
  return pre.length === 1 ? pre[0] : undefined;
}

/** Command names from the root (excluded) down to cmd. */
export function path(cmd: Command): string[] {
  const p: string[] = [];
  for (let c: Command | undefined = cmd; c?.parent; c = c.parent) p.unshift(c.name);
  return p;
}

export function helpFlag(cmd: Command): FlagDef {
  return { name: "help", short: "h", type: "bool", def: "false", usage: `help for ${cmd.name}` };
}

/** Flags a command sees: its own, the persistent flags of its ancestors (and its own), the globals. */
export function inheritedFlags(cmd: Command, globals: FlagDef[]): FlagDef[] {
  const out = [...globals];
  for (let c = cmd.parent; c; c = c.parent) out.push(...(c.persistentFlags ?? []));
  return out;
}

export function localFlags(cmd: Command): FlagDef[] {
  return [...(cmd.flags ?? []), ...(cmd.persistentFlags ?? []), helpFlag(cmd)];
}

function flagUsages(defs: FlagDef[]): string {
  const sorted = [...defs].filter((d) => !d.hidden).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let s = "";
  for (const f of sorted) {
    let line = f.short ? `  -${f.short}, --${f.name}` : `      --${f.name}`;
    const noOpt = f.type === "bool";
    if (noOpt) line += "[";
    line += f.type === "string" ? `=${JSON.stringify(f.def)}` : `=${f.def}`;
    if (noOpt) line += "]";
    s += `${line}\t${f.usage}\n`;
  }
  return s;
}

function descendants(cmd: Command): Command[] {
  const out: Command[] = [];
  for (const s of [...(cmd.sub ?? [])].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    out.push(s, ...descendants(s));
  }
  return out;
}

/** etcdctl's usage text (its help template), for `--help` and for group commands run bare. */
export function usage(cmd: Command, globals: FlagDef[], prog: string): string {
  const names = path(cmd);
  const isRoot = cmd.parent === undefined;
  const hasSub = (cmd.sub ?? []).length > 0;
  let t = "NAME:\n";
  t += isRoot ? `\t${prog} - ${cmd.short}\n` : `\t${names.join(" ")} - ${cmd.short}\n`;
  t += "\nUSAGE:\n";
  const useLine = [prog, ...names.slice(0, -1), cmd.use].join(" ");
  t += `\t${isRoot ? prog : useLine}${useLine.includes("[flags]") ? "" : " [flags]"}\n`;
  if (isRoot) t += `\nVERSION:\n\t${CTL_VERSION}\n`;
  if (hasSub) t += `\nAPI VERSION:\n\t${API_VERSION}\n`;
  if (hasSub) {
    t += "\n\nCOMMANDS:\n";
    for (const s of descendants(cmd)) {
      if (!s.run) continue;
      const rel = path(s).slice(names.length).join(" ");
      t += `\t${rel}\t${s.short}\n`;
    }
  }
  if (cmd.long) {
    t += "\nDESCRIPTION:\n";
    for (const line of cmd.long.replace(/^[\n\t ]+|[\n\t ]+$/g, "").split("\n")) t += `\t${line}\n`;
  }
  const local = isRoot ? [...globals, helpFlag(cmd)] : localFlags(cmd);
  t += `\nOPTIONS:\n${flagUsages(local)}`;
  if (!isRoot) t += `\nGLOBAL OPTIONS:\n${flagUsages(inheritedFlags(cmd, globals))}`;
  t += "\n";
  return tabwrite(t);
}
