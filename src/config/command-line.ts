// Command-line and environment reading with Go's flag package rules, as etcd uses them:
// `-flag`, `--flag`, `-flag=value`, `-flag value`, bool flags bare or with `=value`,
// parsing stops at the first non-flag argument or after `--`; then every flag not given on
// the command line may come from ETCD_<FLAG> (or CONCLAVE_<FLAG>).

import { ConfigError } from "./errors.ts";
import { FLAG_BY_NAME, type FlagValue, flagToEnv } from "./flags.ts";
import { isBoolFlag, parseFlagValue } from "./flag-values.ts";
import { goQuote } from "./go-values.ts";

export interface ParsedArgs {
  /** Flags given on the command line, by name (the last occurrence wins, as in Go). */
  readonly set: Map<string, FlagValue>;
  /** `-h`/`--help` was met; parsing stopped there. */
  readonly help: boolean;
  /** Arguments left after flag parsing stopped. */
  readonly positional: readonly string[];
  readonly warnings: string[];
}

function ignoredWarning(name: string): string {
  return `flag "-${name}" is no longer supported - ignoring.`;
}

/** flag.FlagSet.Parse. Errors carry Go's texts. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const set = new Map<string, FlagValue>();
  const warnings: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const s = argv[i]!;
    if (s.length < 2 || s[0] !== "-") break;
    let minuses = 1;
    if (s[1] === "-") {
      minuses = 2;
      if (s.length === 2) {
        i++;
        break;
      }
    }
    let name = s.slice(minuses);
    if (name.length === 0 || name[0] === "-" || name[0] === "=") {
      throw new ConfigError(`bad flag syntax: ${s}`);
    }
    i++;
    let value: string | undefined;
    const eq = name.indexOf("=", 1);
    if (eq > 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const def = FLAG_BY_NAME.get(name);
    if (def === undefined) {
      if (name === "help" || name === "h") return { set, help: true, positional: [], warnings };
      throw new ConfigError(`flag provided but not defined: -${name}`);
    }
    if (isBoolFlag(def)) {
      try {
        set.set(name, parseFlagValue(def, value ?? "true"));
      } catch (e) {
        throw new ConfigError(`invalid boolean value ${goQuote(value ?? "")} for -${name}: ${(e as Error).message}`);
      }
    } else {
      if (value === undefined) {
        if (i >= argv.length) throw new ConfigError(`flag needs an argument: -${name}`);
        value = argv[i]!;
        i++;
      }
      try {
        set.set(name, parseFlagValue(def, value));
      } catch (e) {
        throw new ConfigError(`invalid value ${goQuote(value)} for flag -${name}: ${(e as Error).message}`);
      }
    }
    if (def.type === "ignored") warnings.push(ignoredWarning(name));
  }
  return { set, help: false, positional: argv.slice(i), warnings };
}

/** Env prefixes, most specific first: CONCLAVE_* wins over ETCD_* when both are set. */
export const ENV_PREFIXES = ["CONCLAVE", "ETCD"] as const;

export interface EnvResult {
  /** Flags taken from the environment, by name. */
  readonly set: Map<string, FlagValue>;
  readonly warnings: string[];
}

/**
 * flags.SetFlagsFromEnv + verifyEnv: fills flags not given on the command line from the
 * environment, and warns about variables that were shadowed by a flag or match no flag.
 */
export function readEnv(
  fromArgs: ReadonlyMap<string, FlagValue>,
  env: Readonly<Record<string, string | undefined>>,
): EnvResult {
  const set = new Map<string, FlagValue>();
  const warnings: string[] = [];
  const used = new Set<string>();
  const shadowed = new Map<string, string>(); // env key → why it went unused
  for (const def of FLAG_BY_NAME.values()) {
    const keys = ENV_PREFIXES.map((p) => flagToEnv(p, def.name));
    if (fromArgs.has(def.name)) {
      for (const k of keys) shadowed.set(k, "shadowed by corresponding flag");
      continue;
    }
    let taken: string | undefined;
    for (const key of keys) {
      const val = env[key];
      if (val === undefined || val === "") continue;
      if (taken !== undefined) {
        shadowed.set(key, `shadowed by ${taken}`);
        continue;
      }
      try {
        set.set(def.name, parseFlagValue(def, val));
      } catch (e) {
        throw new ConfigError(`invalid value ${goQuote(val)} for ${key}: ${(e as Error).message}`);
      }
      used.add(key);
      taken = key;
      if (def.type === "ignored") warnings.push(ignoredWarning(def.name));
    }
  }
  for (const [key, val] of Object.entries(env)) {
    if (val === undefined || used.has(key)) continue;
    const why = shadowed.get(key);
    if (why !== undefined) {
      warnings.push(`recognized environment variable ${key}, but unused: ${why}`);
      continue;
    }
    if (ENV_PREFIXES.some((p) => key.startsWith(`${p}_`))) {
      warnings.push(`unrecognized environment variable ${key}=${val}`);
    }
  }
  return { set, warnings };
}
