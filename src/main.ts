// Entry point of the one executable. The only place that touches the real clock, randomness,
// disk, network and process: everything below receives them injected.
//
// `conclave [serve] [etcd flags]` runs a member; other subcommands are listed by --help.
import { FTL_VARIABLE, serverReexec } from "./runtime/jit-policy.ts";

const argv = process.argv.slice(2);

function fail(msg: string): never {
  process.stderr.write(`${msg}\n`);
  process.exit(1);
}

/**
 * Subcommands other than serving. Each is loaded only when asked for, so a one-shot command
 * starts without the member's code (and the member without theirs).
 */
const SUBCOMMANDS: Record<string, () => Promise<{ main(args: string[]): Promise<number> }>> = {
  ctl: () => import("../cli/ctl/index.ts"),
  pki: () => import("../cli/pki/index.ts"),
  discovery: () => import("../discovery/index.ts"),
};

async function main(): Promise<void> {
  const sub = argv[0];
  const load = sub !== undefined && Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
  if (load !== undefined) {
    const mod = await load();
    process.exitCode = await mod.main(argv.slice(1));
    return;
  }
  const args = sub === "serve" ? argv.slice(1) : argv;
  // `--version` alone, as scripts and package managers run it: answered without loading the
  // flag parser (its tables, the config file's YAML reader), which took most of the start.
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-version")) {
    process.stdout.write((await import("./config/version.ts")).versionText());
    return;
  }

  const { parseServerConfig, ConfigError } = await import("./config/index.ts");
  const { readFileSync } = await import("node:fs");
  let parsed;
  try {
    parsed = parseServerConfig(args, process.env, (p: string) => readFileSync(p, "utf8"));
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  if (parsed.kind === "help" || parsed.kind === "version") {
    process.stdout.write(parsed.text.endsWith("\n") ? parsed.text : `${parsed.text}\n`);
    return;
  }
  // Before anything is printed or touched: the server's JIT policy needs a fresh process image.
  restartWithServerJit();
  for (const w of parsed.warnings) process.stderr.write(`${w}\n`);
  const config = parsed.config;

  // Loaded here, not at the top: a one-shot command (`ctl`, `pki`) does not use node:os.
  const { accessSync, constants, mkdirSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  // The embedded SQLite addon is unpacked into $TMPDIR when the storage layer loads; say so
  // plainly instead of failing with a dlopen trace.
  try {
    accessSync(tmpdir(), constants.W_OK);
  } catch {
    fail(`conclave: temporary directory ${tmpdir()} is not writable (set TMPDIR): the embedded SQLite library is unpacked there`);
  }
  try {
    mkdirSync(`${config.dataDir}/member`, { recursive: true, mode: 0o700 });
    accessSync(`${config.dataDir}/member`, constants.W_OK | constants.R_OK);
  } catch (err) {
    fail(`conclave: cannot access data directory: ${(err as Error).message}`);
  }

  const { startMember } = await import("./member.ts");
  // Measured with compare.py (100k puts, 1000 clients): RSS right after the burst went from
  // 2.1-2.3x etcd's to 1.31-1.53x (median 1.36) with these settings, throughput 1.03-1.25x,
  // p99 0.92-1.08x (docs/benchmarks.md). Polling the heap size costs microseconds.
  const { fullCollector, startHeapGovernor } = await import("./runtime/heap-governor.ts");
  // The eden rule: one client's puts moved RSS by 4-17 MiB a second without it, ~5 with it;
  // put at one and at 1000 clients unchanged within noise (docs/benchmarks.md, "Attacks, memory").
  await startHeapGovernor({ growth: 1.08, everyMs: 10, minBytes: 64 << 20, eden: { afterBytes: 4 << 20, quietMs: 200 } });
  // The checkpointer's module (and node:worker_threads) is loaded when a compaction first needs it.
  const openCheckpointer = async (path: string) => (await import("./runtime/checkpointer.ts")).startCheckpointer(path);
  const member = await startMember(config, { collectGarbage: await fullCollector(), openCheckpointer }).catch((err: unknown) => {
    fail(`conclave: ${err instanceof Error ? err.message : String(err)}`);
  });
  // A member removed from the cluster stops itself; etcd then exits with status 0.
  void member.removed.then(() => process.exit(0));
  // One that stopped on a disk fault (read-only, removed, failed fsync) exits with status 1.
  void member.failed.then(() => process.exit(1));
  let stopping = false;
  // systemd Type=notify: READY=1 once the member serves, STOPPING=1 when it begins to stop.
  const { createNotifier } = await import("./runtime/sd-notify.ts");
  const notifier = await createNotifier(process.env).catch((err: unknown) => {
    member.logger.warn("cannot notify systemd", { error: err instanceof Error ? err.message : String(err) });
    return undefined;
  });
  if (notifier !== undefined) {
    void member.ready.then(() => {
      if (!stopping && !notifier.notify("READY=1")) member.logger.warn("failed to notify systemd of readiness", { socket: process.env.NOTIFY_SOCKET });
    });
  }
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    notifier?.notify("STOPPING=1");
    member.logger.info("received signal; shutting down", { signal });
    member
      .stop()
      .catch(() => {})
      .finally(() => process.exit(0));
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

/** Re-executes this process with the server's JIT policy (src/runtime/jit-policy.ts), once. */
function restartWithServerJit(): void {
  const re = serverReexec({
    env: process.env,
    argv: process.argv,
    argv0: process.argv0,
    execArgv: process.execArgv,
    execPath: process.execPath,
    isBun: typeof (globalThis as { Bun?: unknown }).Bun !== "undefined",
  });
  const execve = (process as { execve?: (file: string, args: string[], env: Record<string, string>) => never }).execve;
  if (re === undefined || typeof execve !== "function") return;
  try {
    execve.call(process, re.file, re.args, re.env);
  } catch (err) {
    // Still a working server, only with the default tiers.
    process.stderr.write(`conclave: could not restart with ${FTL_VARIABLE}=0 (${(err as Error).message}); running with the default JIT tiers\n`);
  }
}

main().catch((err: unknown) => {
  fail(`conclave: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
});
