// grpc-gateway JSON for etcd's messages: proto field names out (int64 as strings, bytes as
// base64, enums by name, zero values omitted); proto or camelCase names in, with Go's error
// texts for the failures clients see most (bad base64, unknown field, not an object).
import {
  fromJson,
  ScalarType,
  toBinary,
  toJson,
  type DescMessage,
  type JsonValue,
  type Message,
} from "@bufbuild/protobuf";
import { Code, EtcdError } from "../../rpctypes/index.ts";
import { base64ErrorOffset } from "./base64.ts";

const invalid = (msg: string) => new EtcdError(Code.InvalidArgument, msg);

export function encodeJson(schema: DescMessage, msg: Message): string {
  return JSON.stringify(toJson(schema, msg, { useProtoFieldName: true }));
}

/** The JSON value of a message, for embedding (stream results). */
export function toJsonValue(schema: DescMessage, msg: Message): JsonValue {
  return toJson(schema, msg, { useProtoFieldName: true });
}

/** Go encoding/json's description of a syntax error, close enough for clients to act on. */
function syntaxError(text: string): EtcdError {
  const t = text.trimStart();
  const c = t[0]!;
  if (!"{[\"-0123456789tfn".includes(c)) {
    return invalid(`invalid character '${c}' looking for beginning of value`);
  }
  // Unbalanced braces or an unterminated string: the input ended early.
  let depth = 0;
  let inStr = false;
  for (let i = 0; i < t.length; i++) {
    const ch = t[i];
    if (inStr) {
      if (ch === "\\") i++;
      else if (ch === '"') inStr = false;
    } else if (ch === '"') inStr = true;
    else if (ch === "{" || ch === "[") depth++;
    else if (ch === "}" || ch === "]") depth--;
  }
  if (depth > 0 || inStr) return invalid("unexpected EOF");
  return invalid("invalid character in JSON input");
}

function kindOf(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (typeof v === "string") return "string";
  if (typeof v === "number") return "number";
  if (typeof v === "boolean") return "bool";
  return "value";
}

/** Validates what protobuf-es would reject with a different text, the way jsonpb words it. */
function check(schema: DescMessage, json: unknown): void {
  if (json === null) return;
  if (typeof json !== "object" || Array.isArray(json)) {
    throw invalid(`json: cannot unmarshal ${kindOf(json)} into Go value of type map[string]json.RawMessage`);
  }
  const obj = json as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    const field = schema.fields.find((f) => f.name === key || f.jsonName === key);
    if (field === undefined) throw invalid(`unknown field ${JSON.stringify(key)} in ${schema.typeName}`);
    const v = obj[key];
    if (v === null || v === undefined) continue;
    if (field.fieldKind === "scalar" && field.scalar === ScalarType.BYTES) {
      checkBase64(v);
    } else if (field.fieldKind === "message") {
      check(field.message, v);
    } else if (field.fieldKind === "list" && Array.isArray(v)) {
      if (field.listKind === "scalar" && field.scalar === ScalarType.BYTES) v.forEach(checkBase64);
      else if (field.listKind === "message") for (const item of v) check(field.message, item);
    }
  }
}

function checkBase64(v: unknown): void {
  if (typeof v !== "string") return;
  const at = base64ErrorOffset(v);
  if (at >= 0) throw invalid(`illegal base64 data at input byte ${at}`);
}

/** Parses an already-decoded JSON value into a request message; throws EtcdError(InvalidArgument). */
export function messageFromJsonValue<T extends Message>(schema: DescMessage, json: unknown): T {
  check(schema, json);
  try {
    return fromJson(schema, (json ?? {}) as JsonValue) as T;
  } catch (err) {
    throw invalid((err as Error).message);
  }
}

/** Parses a request body; an empty body is the empty request, as grpc-gateway treats io.EOF. */
export function decodeJson<T extends Message>(schema: DescMessage, text: string): T {
  if (text.trim() === "") return messageFromJsonValue(schema, {});
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw syntaxError(text);
  }
  return messageFromJsonValue(schema, json);
}

/** Encoded protobuf size, for the gRPC receive limit the gateway's requests also pass. */
export function binarySize(schema: DescMessage, msg: Message): number {
  return toBinary(schema, msg).length;
}
