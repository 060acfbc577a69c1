// PUT /config/local/log (etcd 3.4's etcdhttp.logHandleFunc): sets the member's log level at run
// time from a body like {"Level":"DEBUG"}, read as Go's json.Decoder reads it into
// struct{ Level string } and parsed as capnslog.ParseLevel parses (names, initials or digits,
// after upper-casing). Answers 204, or 400 with etcd's JSON error body.
import type { LogLevel } from "../../server/logger.ts";
import { goDecodeFirst } from "../../rpctypes/go-json.ts";

/** capnslog's levels onto the member's: NOTICE has no level of its own, TRACE is DEBUG. */
const CAPNSLOG: Record<string, { name: string; level: LogLevel }> = {};
for (const [names, name, level] of [
  [["CRITICAL", "C"], "CRITICAL", "panic"],
  [["ERROR", "0", "E"], "ERROR", "error"],
  [["WARNING", "1", "W"], "WARNING", "warn"],
  [["NOTICE", "2", "N"], "NOTICE", "info"],
  [["INFO", "3", "I"], "INFO", "info"],
  [["DEBUG", "4", "D"], "DEBUG", "debug"],
  [["TRACE", "5", "T"], "TRACE", "debug"],
] as const) {
  for (const n of names) CAPNSLOG[n] = { name, level };
}

export type LogLevelRequest = { level: LogLevel; name: string } | { status: 400; message: string };

/** Reads the request body; the answer etcd gives for it. */
export function parseLogLevelBody(body: string): LogLevelRequest {
  const invalid = { status: 400, message: "Invalid json body" } as const;
  const first = goDecodeFirst(body);
  if ("error" in first) return invalid;
  const v: unknown = JSON.parse(body.slice(0, first.end));
  let given = "";
  if (v !== null) {
    if (typeof v !== "object" || Array.isArray(v)) return invalid;
    // encoding/json matches a field name exactly first, else without regard to case.
    const entries = Object.entries(v as Record<string, unknown>);
    const hit = entries.find(([k]) => k === "Level") ?? entries.findLast(([k]) => k.toLowerCase() === "level");
    if (hit !== undefined && hit[1] !== null) {
      if (typeof hit[1] !== "string") return invalid;
      given = hit[1];
    }
  }
  const parsed = CAPNSLOG[given.toUpperCase()];
  if (parsed === undefined) return { status: 400, message: `Invalid log level ${given}` };
  return parsed;
}
