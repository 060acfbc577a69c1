import { ConfigError, type ServerConfig, parseServerConfig } from "../../src/config/index.ts";

export type Env = Record<string, string | undefined>;

const noFiles = (p: string): string => {
  throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: "ENOENT" });
};

/** Parses expecting a runnable configuration. */
export function run(
  argv: string[],
  env: Env = {},
  files: Record<string, string> = {},
): { config: ServerConfig; warnings: readonly string[] } {
  const r = parseServerConfig(argv, env, (p) => files[p] ?? noFiles(p));
  if (r.kind !== "run") throw new Error(`expected run, got ${r.kind}`);
  return { config: r.config, warnings: r.warnings };
}

/** Parses expecting a ConfigError; returns its message. */
export function fails(argv: string[], env: Env = {}, files: Record<string, string> = {}): string {
  try {
    parseServerConfig(argv, env, (p) => files[p] ?? noFiles(p));
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

export const hrefs = (us: readonly URL[]): string[] => us.map((u) => `${u.protocol}//${u.host}`);

/** The message `f` throws, or "no error". */
export function msg(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return "no error";
}
