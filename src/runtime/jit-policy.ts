// The JIT tiers a member runs with.
//
// JavaScriptCore compiles hot functions in three tiers; the top one (FTL) spends 10-150 ms of
// compiler-thread CPU per function and keeps finding new hot functions for as long as a
// benchmark lasts (a follower's JIT thread: 60-110 ms of CPU every second through 16 s of put
// load). On a small machine shared by the members and their clients that CPU comes out of the
// request path: with FTL off, put at one client on three members went from p99 6.5-7.2 ms to
// 3.8-4.6 ms (after warm-up 6.2-7.4 to 3.0-3.5), throughput up 15-25 %, while put and range at
// 1000 clients moved within run-to-run noise (docs/benchmarks.md, round 4). So the server
// runs without FTL.
//
// JavaScriptCore reads its options from the environment once, at start, and a compiled
// executable cannot set them for itself: main.ts re-executes the same process image (same
// PID, same arguments) with the variable set. A user who sets it keeps their own value
// (BUN_JSC_useFTLJIT=1 turns FTL back on).
export const FTL_VARIABLE = "BUN_JSC_useFTLJIT";

export interface ProcessView {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly argv: readonly string[];
  /** The program name as it was started (process.argv0; Bun's argv[0] is always "bun"). */
  readonly argv0: string;
  readonly execArgv: readonly string[];
  readonly execPath: string;
  /** Whether the runtime is Bun (other runtimes have no JavaScriptCore to configure). */
  readonly isBun: boolean;
}

export interface Reexec {
  readonly file: string;
  readonly args: string[];
  readonly env: Record<string, string>;
}

/** Prefix of the embedded file system a compiled Bun executable runs its entry point from. */
const COMPILED_ROOTS = ["/$bunfs/", "B:/~BUN/", "B:\\~BUN\\"];

/**
 * How to start this program again with the server's JIT policy, or undefined when the current
 * process already has it (or its form is not one we know how to restart exactly).
 */
export function serverReexec(p: ProcessView): Reexec | undefined {
  if (!p.isBun || p.env[FTL_VARIABLE] !== undefined) return undefined;
  const entry = p.argv[1];
  if (entry === undefined) return undefined;
  let args: string[];
  if (COMPILED_ROOTS.some((r) => entry.startsWith(r))) {
    // A compiled executable: Bun supplies the embedded entry point itself. argv[0] stays what
    // it was, so ps and pkill still see the name the member was started under.
    args = [p.argv0, ...p.argv.slice(2)];
  } else if (/\.(?:[cm]?[jt]s|tsx?)$/.test(entry)) {
    // `bun [runtime flags] file.ts args`: the same command line.
    args = [p.argv0, ...p.execArgv, entry, ...p.argv.slice(2)];
  } else {
    return undefined;
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.env)) if (v !== undefined) env[k] = v;
  env[FTL_VARIABLE] = "0";
  return { file: p.execPath, args, env };
}
