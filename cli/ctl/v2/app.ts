// The command line of etcdctl's v2 mode, read the way its libraries read it (urfave/cli 1.22
// over Go's flag package): global flags before the command name; a command's own flags
// anywhere among its arguments (moved before them), "--" ending them; -flag and --flag alike,
// -flag=value or -flag value, booleans only -flag or -flag=bool; help and usage texts from
// urfave's templates; its errors, streams and exit codes.
import { parseGoBool, parseGoDuration, parseGoInt } from "../flags.ts";
import { tabwrite } from "../tabwriter.ts";

export type V2FlagType = "bool" | "string" | "int" | "duration" | "stringSlice";

export interface V2FlagDef {
  /** urfave's Name: "recursive, r". */
  names: string;
  type: V2FlagType;
  usage: string;
  /** Default as text ("" = none shown, except for numbers and durations). */
  def?: string;
}

export interface V2Command {
  name: string;
  usage: string;
  argsUsage?: string;
  description?: string;
  flags?: V2FlagDef[];
  sub?: V2Command[];
  run?: (c: V2Context) => Promise<number | void>;
}

/** Parsed flag values of one flag set. */
export class V2Flags {
  private readonly values = new Map<string, string | string[] | boolean>();
  readonly set = new Set<string>();

  constructor(private readonly defs: V2FlagDef[]) {}

  find(name: string): V2FlagDef | undefined {
    return this.defs.find((d) => d.names.split(",").some((n) => n.trim() === name));
  }

  private key(d: V2FlagDef): string {
    return d.names.split(",")[0]!.trim();
  }

  put(d: V2FlagDef, v: string | boolean): void {
    const k = this.key(d);
    if (d.type === "stringSlice") this.values.set(k, [...((this.values.get(k) as string[] | undefined) ?? []), v as string]);
    else this.values.set(k, v);
    this.set.add(k);
  }

  bool(name: string): boolean {
    return this.values.get(name) === true;
  }

  string(name: string): string {
    const v = this.values.get(name);
    return typeof v === "string" ? v : (this.find(name)?.def ?? "");
  }

  int(name: string): number {
    return Number(this.string(name) || "0");
  }

  /** Milliseconds. */
  duration(name: string): number {
    return parseGoDuration(this.string(name)) ?? 0;
  }

  strings(name: string): string[] {
    return (this.values.get(name) as string[] | undefined) ?? [];
  }
}

export interface V2Context {
  /** Positional arguments of the command. */
  args: string[];
  flags: V2Flags;
  global: V2Flags;
  /** The command path, e.g. ["member", "list"]. */
  path: string[];
}

/** A usage error: urfave prints "Incorrect Usage…" and the help on stdout, the error on stderr. */
export class UsageError extends Error {}

/** Go's flag.FlagSet.Parse: stops at the first non-flag; returns the remaining arguments. */
export function parseFlags(fs: V2Flags, args: string[]): string[] {
  let i = 0;
  for (; i < args.length; i++) {
    const s = args[i]!;
    if (s.length < 2 || s[0] !== "-") break;
    let minus = 1;
    if (s[1] === "-") {
      minus = 2;
      if (s.length === 2) {
        i++;
        break;
      }
    }
    let name = s.slice(minus);
    if (name === "" || name[0] === "-" || name[0] === "=") throw new UsageError(`bad flag syntax: ${s}`);
    let value: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const d = fs.find(name);
    if (d === undefined) throw new UsageError(`flag provided but not defined: -${name}`);
    if (d.type === "bool") {
      if (value === undefined) fs.put(d, true);
      else {
        const b = parseGoBool(value);
        if (b === undefined) throw new UsageError(`invalid boolean value ${JSON.stringify(value)} for -${name}: parse error`);
        fs.put(d, b);
      }
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= args.length) throw new UsageError(`flag needs an argument: -${name}`);
      value = args[++i]!;
    }
    const bad = () => new UsageError(`invalid value ${JSON.stringify(value)} for flag -${name}: parse error`);
    if (d.type === "int" && typeof parseGoInt(value) === "string") throw bad();
    if (d.type === "duration" && parseGoDuration(value) === undefined) throw bad();
    fs.put(d, value);
  }
  return args.slice(i);
}

/** urfave's reorderArgs: a command's own flags (and a value after each) first, "--" kept in front of the rest. */
export function reorderArgs(fs: V2Flags, args: string[]): string[] {
  const isFlag = (a: string) => {
    if (a === "-" || a === "--" || !a.startsWith("-")) return false;
    const name = a.replace(/^--?/, "").split("=")[0]!;
    return fs.find(name) !== undefined;
  };
  const reordered: string[] = [];
  let remaining: string[] = [];
  let mayBeValue = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (mayBeValue && !isFlag(a)) {
      mayBeValue = false;
      reordered.push(a);
    } else if (a === "--") {
      remaining = ["--", ...remaining, ...args.slice(i + 1)];
      break;
    } else if (isFlag(a)) {
      reordered.push(a);
      mayBeValue = !a.includes("=");
    } else remaining.push(a);
  }
  return [...reordered, ...remaining];
}

// --- help ----------------------------------------------------------------------------------

function prefixed(names: string, placeholder: string): string {
  return names
    .split(",")
    .map((n) => n.trim())
    .map((n) => `${n.length === 1 ? "-" : "--"}${n}${placeholder ? ` ${placeholder}` : ""}`)
    .join(", ");
}

/** urfave's Flag.String(): names, placeholder, usage, default. */
export function flagLine(d: V2FlagDef): string {
  let usage = d.usage;
  let placeholder = d.type === "bool" ? "" : "value";
  const m = /`([^`]*)`/.exec(usage);
  if (m) {
    placeholder = m[1]!;
    usage = usage.replace(m[0], m[1]!);
  }
  let def = "";
  if (d.type === "string" && d.def) def = ` (default: ${JSON.stringify(d.def)})`;
  if (d.type === "int" || d.type === "duration") def = ` (default: ${d.def ?? "0"})`;
  return `${prefixed(d.names, placeholder)}\t${usage}${def}`;
}

const TAB = { minWidth: 1, padding: 2, padChar: " " as const };

export function appHelp(prog: string, usage: string, version: string, commands: V2Command[], globals: V2FlagDef[]): string {
  let t = `NAME:\n   ${prog} - ${usage}\n\nUSAGE:\n   ${prog} [global options] command [command options] [arguments...]\n\nVERSION:\n   ${version}\n\nCOMMANDS:`;
  for (const c of commands) t += `\n   ${c.name}\t${c.usage}`;
  t += "\n   help, h\tShows a list of commands or help for one command";
  t += `\n\nGLOBAL OPTIONS:\n   ${[...globals.map(flagLine), "--help, -h\tshow help", "--version, -v\tprint the version"].join("\n   ")}\n`;
  return tabwrite(t, TAB);
}

export function commandHelp(prog: string, path: string[], c: V2Command): string {
  const name = [prog, ...path].join(" ");
  const flags = c.flags ?? [];
  if (c.sub) {
    let t = `NAME:\n   ${name} - ${c.usage}\n\nUSAGE:\n   ${name} command [command options] [arguments...]\n\nCOMMANDS:`;
    for (const s of c.sub) t += `\n   ${s.name}\t${s.usage}`;
    t += "\n\nOPTIONS:\n   --help, -h\tshow help\n   \n";
    return tabwrite(t, TAB);
  }
  let t = `NAME:\n   ${name} - ${c.usage}\n\nUSAGE:\n   ${name}${flags.length > 0 ? " [command options]" : ""} ${c.argsUsage ?? "[arguments...]"}`;
  if (c.description) t += `\n\nDESCRIPTION:\n   ${c.description}`;
  if (flags.length > 0) t += `\n\nOPTIONS:\n   ${flags.map((f) => `${flagLine(f)}\n   `).join("")}`;
  t += "\n";
  return tabwrite(t, TAB);
}
