// etcd's YAML configuration file: keys are flag names, URL lists are comma strings, client
// and peer TLS settings sit in nested `client-transport-security` / `peer-transport-security`
// maps. Errors keep etcd's wording (it converts YAML to JSON, then decodes the JSON).

import { parseDocument } from "yaml";
import { ConfigError } from "./errors.ts";
import { FLAGS, type FlagDef, type FlagValue } from "./flags.ts";
import { parseGoDuration } from "./go-values.ts";
import { parseUrlList } from "./urls.ts";

export interface FileResult {
  /** Keys found in the file, by flag name. */
  readonly set: Map<string, FlagValue>;
  readonly warnings: string[];
}

const TOP_KEYS = new Map(FLAGS.filter((d) => d.yaml === "top").map((d) => [d.name, d]));
const NESTED = ["client-transport-security", "peer-transport-security"] as const;
type Nested = (typeof NESTED)[number];
const NESTED_KEYS: Record<Nested, Map<string, FlagDef>> = {
  "client-transport-security": new Map(
    FLAGS.filter((d) => d.yaml === "client-transport-security").map((d) => [d.yamlKey ?? d.name, d]),
  ),
  "peer-transport-security": new Map(
    FLAGS.filter((d) => d.yaml === "peer-transport-security").map((d) => [d.yamlKey ?? d.name, d]),
  ),
};

/** The Go type etcd decodes each key into, for etcd's type-mismatch message. */
const GO_TYPES: Record<string, string> = {
  "snapshot-count": "uint64",
  "quota-backend-bytes": "int64",
  "backend-batch-limit": "int",
  "experimental-compaction-batch-limit": "int",
  "max-concurrent-streams": "uint32",
};

function goType(def: FlagDef): string {
  const special = GO_TYPES[def.name];
  if (special !== undefined) return special;
  switch (def.type) {
    case "bool":
      return "bool";
    case "uint":
      return "uint";
    case "int":
      return "int64";
    case "uint32":
      return "uint32";
    case "duration":
      return "time.Duration";
    case "strings":
    case "unique-strings":
      return "[]string";
    default:
      return "string";
  }
}

function jsonKind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return `number ${v}`;
  if (typeof v === "boolean") return "bool";
  return typeof v === "object" ? "object" : "string";
}

function mismatch(field: string, v: unknown, type: string): ConfigError {
  return new ConfigError(
    `error unmarshaling JSON: json: cannot unmarshal ${jsonKind(v)} into Go struct field configYAML.${field} of type ${type}`,
  );
}

function integer(def: FlagDef, field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw mismatch(field, v, goType(def));
  }
  return v;
}

function stringList(def: FlagDef, field: string, v: unknown): string[] {
  if (typeof v === "string") return v === "" ? [] : v.split(",");
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
  throw mismatch(field, v, goType(def));
}

/** One value from the file, converted to the flag's typed value. */
function convert(def: FlagDef, field: string, v: unknown): FlagValue {
  switch (def.type) {
    case "string":
    case "select":
      // Numbers are accepted for string keys (`auto-compaction-retention: 1`): YAML users
      // rarely expect to quote them.
      if (typeof v === "string") return v;
      if (typeof v === "number") return String(v);
      throw mismatch(field, v, goType(def));
    case "bool":
      if (typeof v === "boolean") return v;
      throw mismatch(field, v, goType(def));
    case "uint":
      return integer(def, field, v, 0, Number.MAX_SAFE_INTEGER);
    case "uint32":
      return integer(def, field, v, 0, 0xffffffff);
    case "int":
      return integer(def, field, v, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    case "duration":
      // etcd decodes a time.Duration from a JSON number of nanoseconds; a Go duration
      // string ("10m") is accepted as well.
      if (typeof v === "number" && Number.isInteger(v)) return v;
      if (typeof v === "string") {
        try {
          return parseGoDuration(v);
        } catch (e) {
          throw new ConfigError(`invalid value for ${field}: ${(e as Error).message}`);
        }
      }
      throw mismatch(field, v, goType(def));
    case "urls": {
      if (typeof v !== "string") throw mismatch(field, v, "string");
      try {
        return v === "" ? [] : parseUrlList(v);
      } catch (e) {
        throw new ConfigError(`unexpected error setting up ${def.name}: ${(e as Error).message}`);
      }
    }
    case "strings":
      return stringList(def, field, v);
    case "unique-strings":
      return [...new Set(stringList(def, field, v))].sort();
    case "ignored":
      return true;
  }
}

/** The first line of a YAML parser message, in the shape of go-yaml's errors. */
function yamlError(e: { message: string; linePos?: [{ line: number; col: number }, ...unknown[]] }): ConfigError {
  const first = (e.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
  const line = e.linePos?.[0]?.line;
  return new ConfigError(`error converting YAML to JSON: yaml: ${line !== undefined ? `line ${line}: ` : ""}${first}`);
}

/** Parses the text of a config file. */
export function parseConfigFile(text: string): FileResult {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const err = doc.errors[0];
  if (err !== undefined) throw yamlError(err);
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError(`error converting YAML to JSON: yaml: ${(e as Error).message.split("\n")[0]}`);
  }
  const set = new Map<string, FlagValue>();
  const warnings: string[] = [];
  if (root === null || root === undefined) return { set, warnings };
  if (typeof root !== "object" || Array.isArray(root)) {
    throw new ConfigError(
      `error unmarshaling JSON: json: cannot unmarshal ${jsonKind(root)} into Go value of type embed.configYAML`,
    );
  }
  for (const [key, v] of Object.entries(root as Record<string, unknown>)) {
    // A null value (`key:` with nothing after it) leaves the default, as in etcd.
    if (v === null) continue;
    if ((NESTED as readonly string[]).includes(key)) {
      const place = key as Nested;
      if (typeof v !== "object" || Array.isArray(v)) throw mismatch(key, v, "embed.securityConfig");
      for (const [sub, sv] of Object.entries(v as Record<string, unknown>)) {
        const def = NESTED_KEYS[place].get(sub);
        if (def === undefined) {
          warnings.push(`unknown config file key "${key}.${sub}" (ignored)`);
          continue;
        }
        if (sv === null) continue;
        set.set(def.name, convert(def, `${key}.${sub}`, sv));
      }
      continue;
    }
    const def = TOP_KEYS.get(key);
    if (def === undefined) {
      const tls = FLAGS.find((d) => d.name === key && d.yamlKey !== undefined);
      warnings.push(
        tls !== undefined
          ? `config file key "${key}" is ignored; set "${tls.yamlKey}" under "${tls.yaml}"`
          : `unknown config file key "${key}" (ignored)`,
      );
      continue;
    }
    set.set(def.name, convert(def, key, v));
  }
  return { set, warnings };
}

/** Reads and parses a config file through the injected reader. */
export function loadConfigFile(path: string, readFile: (p: string) => string): FileResult {
  let text: string;
  try {
    text = readFile(path);
  } catch (e) {
    throw new ConfigError(`open ${path}: ${describeFsError(e)}`);
  }
  return parseConfigFile(text);
}

const FS_REASONS: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EISDIR: "is a directory",
  ENOTDIR: "not a directory",
};

function describeFsError(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string" && FS_REASONS[code] !== undefined) return FS_REASONS[code];
  return e instanceof Error ? e.message : String(e);
}
