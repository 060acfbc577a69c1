// Values as people read them: text, JSON or YAML (pretty-printed, validated before a save) or
// hex for bytes that are not UTF-8. The YAML library is loaded only when YAML is used.
import { fromHex, text, toHex, utf8 } from "./bytes.ts";

export type ValueFormat = "text" | "json" | "yaml" | "hex";
export const FORMATS: readonly ValueFormat[] = ["text", "json", "yaml", "hex"];

type YamlLib = typeof import("yaml");
let yamlLib: Promise<YamlLib> | undefined;
const yaml = (): Promise<YamlLib> => (yamlLib ??= import("yaml"));

/** The format a value is first shown in: hex for binary, JSON when it parses as an object or array. */
export function detectFormat(v: Uint8Array): ValueFormat {
  const t = text(v);
  if (t === undefined) return "hex";
  const s = t.trim();
  if ((s.startsWith("{") && s.endsWith("}")) || (s.startsWith("[") && s.endsWith("]"))) {
    try {
      JSON.parse(s);
      return "json";
    } catch {
      return "text";
    }
  }
  return "text";
}

/** The value rendered in `f` for display and editing. Throws when `v` is not valid in `f`. */
export async function render(v: Uint8Array, f: ValueFormat): Promise<string> {
  if (f === "hex") return toHex(v).replace(/(.{2})(?=.)/g, "$1 ");
  const t = text(v);
  if (t === undefined) throw new Error("the value is not UTF-8 text; view it as hex");
  if (f === "text") return t;
  if (f === "json") return JSON.stringify(JSON.parse(t), null, 2);
  const y = await yaml();
  return y.stringify(y.parse(t));
}

/**
 * Checks the edited text in format `f` and returns the bytes to store: JSON and YAML must
 * parse (the error names the problem), hex must be hex digits. The text is stored as typed.
 */
export async function encode(edited: string, f: ValueFormat): Promise<Uint8Array> {
  if (f === "hex") return fromHex(edited);
  if (f === "json") {
    try {
      JSON.parse(edited);
    } catch (err) {
      throw new Error(`invalid JSON: ${(err as Error).message}`);
    }
  }
  if (f === "yaml") {
    const y = await yaml();
    const doc = y.parseDocument(edited);
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]!.message}`);
  }
  return utf8(edited);
}
