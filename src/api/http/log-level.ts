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
  const text = body.slice(0, first.end);
  const v: unknown = JSON.parse(text);
  let given = "";
  if (v !== null) {
    if (typeof v !== "object" || Array.isArray(v)) return invalid;
    // encoding/json sets the field for every key that names it (exactly or without regard to
    // ASCII case), in the body's order: the last one wins, and a value of another type fails
    // the decode. JSON.parse keeps neither the order of such keys nor their repeats.
    for (const [key, raw] of objectMembers(text)) {
      if (key.length !== 5 || key.toLowerCase() !== "level") continue;
      const value: unknown = JSON.parse(raw);
      if (value === null) continue;
      if (typeof value !== "string") return invalid;
      given = value;
    }
  }
  const parsed = CAPNSLOG[given.toUpperCase()];
  if (parsed === undefined) return { status: 400, message: `Invalid log level ${given}` };
  return parsed;
}

/** The members of a JSON object text already known to be valid: [key, value's text], in order. */
function objectMembers(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let i = text.indexOf("{") + 1;
  const ws = () => {
    while (" \t\r\n".includes(text[i] ?? "x")) i++;
  };
  for (;;) {
    ws();
    if (text[i] !== '"') return out; // "}": the end
    const keyEnd = i + (goDecodeFirst(text.slice(i)) as { end: number }).end;
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = keyEnd;
    ws();
    i++; // ":"
    ws();
    const valueEnd = i + (goDecodeFirst(text.slice(i)) as { end: number }).end;
    out.push([key, text.slice(i, valueEnd)]);
    i = valueEnd;
    ws();
    if (text[i] === ",") i++;
  }
}
