// The entry point: argv + environment (+ config file) → what the executable should do.
// Follows etcdmain's config.parse order: flags, help, stray arguments, version, then either
// the config file (flags and env ignored) or env-filled flags; then validation.

import { buildServerConfig } from "./build-config.ts";
import { parseArgs, readEnv } from "./command-line.ts";
import { loadConfigFile } from "./config-file.ts";
import { ConfigError } from "./errors.ts";
import { helpText, versionText } from "./help.ts";
import type { ParseResult } from "./server-config.ts";

export type ReadFile = (path: string) => string;

/**
 * Parses the server's command line. Throws ConfigError (one line, etcd's wording) when the
 * flags, environment or config file are invalid.
 */
export function parseServerConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  readFile: ReadFile,
): ParseResult {
  const args = parseArgs(argv);
  if (args.help) return { kind: "help", text: helpText() };
  const stray = args.positional[0];
  if (stray !== undefined) throw new ConfigError(`'${stray}' is not a valid flag`);
  if (args.set.get("version") === true) return { kind: "version", text: versionText() };

  const warnings = [...args.warnings];
  const fromFlag = args.set.get("config-file");
  const configFile =
    (typeof fromFlag === "string" && fromFlag !== "" ? fromFlag : undefined) ||
    env["CONCLAVE_CONFIG_FILE"] ||
    env["ETCD_CONFIG_FILE"] ||
    "";
  if (configFile !== "") {
    const file = loadConfigFile(configFile, readFile);
    warnings.push(
      `Loading server configuration from "${configFile}". Other configuration command line flags and environment variables will be ignored if provided.`,
      ...file.warnings,
    );
    const config = buildServerConfig(file.set, "file", configFile, warnings);
    return { kind: "run", config, warnings };
  }
  const fromEnv = readEnv(args.set, env);
  warnings.push(...fromEnv.warnings);
  const given = new Map([...fromEnv.set, ...args.set]);
  const config = buildServerConfig(given, "flags", "", warnings);
  return { kind: "run", config, warnings };
}
