// `conclave pki`: the certificate maker. main(args) returns the exit status: 0 done, 1 the work
// failed, 2 a bad command line. Errors are one line on stderr, "conclave pki: <reason>".
import type { Io } from "./commands.ts";
import { HELP } from "./help.ts";

// The commands (and the X.509 library under them) load only when one runs: --help stays fast.
const commands = () => import("./commands.ts");
const COMMANDS: Record<string, (args: string[], io: Io) => Promise<number>> = {
  ca: async (a, io) => (await commands()).caCommand(a, io),
  server: async (a, io) => (await commands()).leafCommand("server", a, io),
  peer: async (a, io) => (await commands()).leafCommand("peer", a, io),
  client: async (a, io) => (await commands()).leafCommand("client", a, io),
  cluster: async (a, io) => (await commands()).clusterCommand(a, io),
  crl: async (a, io) => (await commands()).crlCommand(a, io),
  inspect: async (a, io) => (await import("./inspect.ts")).inspectCommand(a, io),
};

const wantsHelp = (args: readonly string[]) => args.includes("--help") || args.includes("-h");

export async function run(args: string[], io: Io, err: (text: string) => void): Promise<number> {
  const [cmd, ...rest] = args;
  if (cmd === undefined || cmd === "--help" || cmd === "-h" || cmd === "help") {
    (cmd === undefined ? err : io.out)(HELP[""]!);
    return cmd === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (command === undefined) {
    err(`conclave pki: unknown command "${cmd}" (commands: ${Object.keys(COMMANDS).join(", ")})\n`);
    return 2;
  }
  if (wantsHelp(rest)) {
    io.out(HELP[cmd]!);
    return 0;
  }
  try {
    return await command(rest, io);
  } catch (e) {
    const { PkiError, UsageError } = await import("./args.ts");
    if (e instanceof UsageError) {
      err(`conclave pki ${cmd}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof PkiError) {
      err(`conclave pki ${cmd}: ${e.message}\n`);
      return 1;
    }
    err(`conclave pki ${cmd}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

export function main(args: string[]): Promise<number> {
  return run(args, { out: (t) => process.stdout.write(t), now: () => new Date() }, (t) => process.stderr.write(t));
}
