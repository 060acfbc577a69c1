// How a flag's text becomes its typed value, per flag type of the table in flags.ts: Go's
// flag.Value.Set of each type (for the command line and env vars), the typed defaults, and
// which flags Go's flag package takes bare. Apart from the table, which is only data.
import {
  ValueError,
  parseGoBool,
  parseGoDurationFlag,
  parseGoInt,
  parseGoUint,
  parseGoUint32,
} from "./go-values.ts";
import { parseUniqueUrlList } from "./urls.ts";
import type { FlagDef, FlagValue } from "./flags.ts";

/** Whether Go's flag package treats the flag as boolean (may be given bare: `--enable-v2`). */
export function isBoolFlag(def: FlagDef): boolean {
  return def.type === "bool" || def.type === "ignored";
}

/**
 * The flag.Value.Set of each type: parses a command-line or env string. Throws ValueError
 * with the text Go's Set returns (the caller adds "invalid value ... for flag -x: ").
 */
export function parseFlagValue(def: FlagDef, s: string): FlagValue {
  switch (def.type) {
    case "string":
      return s;
    case "bool":
      return parseGoBool(s);
    case "ignored":
      return true;
    case "uint":
      return parseGoUint(s);
    case "int":
      return parseGoInt(s);
    case "uint32":
      return parseGoUint32(s);
    case "duration":
      return parseGoDurationFlag(s);
    case "urls":
      return parseUniqueUrlList(s);
    case "strings":
      return s === "" ? [] : s.split(",");
    case "unique-strings":
      return [...new Set(s.split(","))].sort();
    case "select":
      if (def.values?.includes(s)) return s;
      throw new ValueError("invalid value");
  }
}

/** The typed default of a flag. Defaults are constants: a failure here is a table bug. */
export function defaultValue(def: FlagDef): FlagValue {
  try {
    return parseFlagValue(def, def.def);
  } catch (e) {
    throw new Error(`flag table: bad default for --${def.name}: ${(e as Error).message}`);
  }
}
