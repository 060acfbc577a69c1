// `conclave ctl`: etcdctl 3.4's commands, flags, ETCDCTL_* variables, output formats and exit
// codes, in the same executable as the member. main(args) returns the exit code; nothing of
// the server is loaded.
import { ClientError } from "../../src/client/index.ts";
import { type Command, findSub, inheritedFlags, link, localFlags, usage } from "./command.ts";
import { commandTree } from "./commands/index.ts";
import { CtlExit, Exit } from "./exit.ts";
import { applyEnv, FlagError, FlagSet, logStamp, parseArgs } from "./flags.ts";
import { GLOBAL_FLAGS, Globals, hintFor } from "./globals.ts";
import { errln, isTTY, outln } from "./io.ts";

const PROG = "conclave ctl";

/** Splits off the command path: the first non-flag words that name subcommands. */
function resolve(root: Command, args: string[]): { cmd: Command; rest: string[]; unknown?: string } {
  let cmd = root;
  const rest: string[] = [];
  let i = 0;
  const valueFlags = new Set(GLOBAL_FLAGS.filter((f) => f.type !== "bool").flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]));
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") break;
    if (a.startsWith("-")) {
      rest.push(a);
      if (!a.includes("=") && valueFlags.has(a) && i + 1 < args.length) rest.push(args[++i]!);
      continue;
    }
    const sub = cmd.sub && cmd.sub.length > 0 ? findSub(cmd, a) : undefined;
    if (sub === undefined) {
      if (cmd === root) return { cmd, rest: [...rest, ...args.slice(i)], unknown: a };
      break;
    }
    cmd = sub;
  }
  return { cmd, rest: [...rest, ...args.slice(i)] };
}

export async function main(args: string[]): Promise<number> {
  const code = await run(args);
  // A one-shot command ends here even if a connection or stdin reader is still open.
  setTimeout(() => process.exit(code), 20).unref();
  return code;
}

async function run(args: string[]): Promise<number> {
  const api = process.env.ETCDCTL_API ?? "";
  if (args[0] === "v2" || api === "2") {
    const { mainV2 } = await import("./v2/index.ts");
    return args[0] === "v2" ? mainV2(args.slice(1), `${PROG} v2`) : mainV2(args, PROG);
  }
  if (api !== "" && api !== "3") {
    errln(`unsupported API version ${api}`);
    return 1;
  }
  const root = link(commandTree());
  let g: Globals | undefined;
  try {
    const { cmd, rest, unknown } = resolve(root, args);
    const defs = cmd === root ? [...GLOBAL_FLAGS] : [...inheritedFlags(cmd, GLOBAL_FLAGS), ...localFlags(cmd)];
    if (cmd === root) defs.push({ name: "help", short: "h", type: "bool", def: "false", usage: "help for etcdctl" });
    const fs = new FlagSet(defs);
    const { positional, dashAt } = parseArgs(fs, rest);
    if (fs.bool("help")) {
      process.stdout.write(usage(cmd, GLOBAL_FLAGS, PROG));
      return 0;
    }
    if (unknown !== undefined && cmd === root) {
      if (unknown === "help") {
        const target = positional.slice(1).reduce<Command | undefined>((c, n) => (c ? findSub(c, n) : undefined), root) ?? root;
        process.stdout.write(usage(target, GLOBAL_FLAGS, PROG));
        return 0;
      }
      const near = (root.sub ?? []).filter((s) => levenshtein(s.name, unknown) <= 2 || s.name.startsWith(unknown)).map((s) => s.name);
      throw new CtlExit(Exit.Error, `unknown command ${JSON.stringify(unknown)} for ${JSON.stringify(PROG)}`, false, near.length > 0 ? `did you mean ${near.join(" or ")}? (${PROG} --help lists the commands)` : `${PROG} --help lists the commands`);
    }
    if (!cmd.run) {
      process.stdout.write(usage(cmd, GLOBAL_FLAGS, PROG));
      return 0;
    }
    const watchEnv = cmd.name === "watch" ? ["ETCDCTL_WATCH_KEY", "ETCDCTL_WATCH_RANGE_END"] : [];
    applyEnv(fs, inheritedFlags(cmd, GLOBAL_FLAGS), process.env, ["ETCDCTL_API", ...watchEnv], (line) => errln(`${logStamp()} ${line}`));
    g = new Globals(fs);
    const code = await cmd.run({ args: positional, dashAt, flags: fs, rawArgs: rest, cmd, g });
    return code ?? 0;
  } catch (e) {
    return report(e, g);
  } finally {
    for (const c of g?.clients ?? []) c.close();
  }
}

function report(e: unknown, g: Globals | undefined): number {
  if (e instanceof CtlExit) {
    if (!e.printed) {
      errln(`Error: ${e.message}`);
      if (e.hint && isTTY(2)) errln(`hint: ${e.hint}`);
    }
    return e.code;
  }
  if (e instanceof FlagError) {
    if (e.message.startsWith("C | ")) {
      errln(`${logStamp()} ${e.message}`);
      return Exit.Error;
    }
    errln(`Error: ${e.message}`);
    if (isTTY(2)) errln(`hint: see '${PROG} --help' and the command's own --help for its flags`);
    return Exit.Error;
  }
  if (e instanceof ClientError) {
    errln(`Error: ${e.text}`);
    const h = g ? hintFor(e, g) : undefined;
    if (h && isTTY(2)) errln(`hint: ${h}`);
    return Exit.Error;
  }
  errln(`Error: ${e instanceof Error ? e.message : String(e)}`);
  return Exit.Error;
}

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

export { outln };
