// grpc-gateway JSON for etcd's messages: proto field names out (int64 as strings, bytes as
// base64, enums by name, zero values omitted); proto or camelCase names in, numbers read
// exactly, unknown fields ignored (as etcd's gateway does), with Go's error texts for the
// failures clients see most (bad base64, numbers that do not fit, not an object).
import {
  fromJson,
  ScalarType,
  toBinary,
  toJson,
  type DescMessage,
  type JsonValue,
  type Message,
} from "@bufbuild/protobuf";
import { Code, Errors, EtcdError } from "../../rpctypes/index.ts";
import { isTooDeep, MAX_MESSAGE_DEPTH } from "../grpc/framing.ts";
import { base64ErrorOffset } from "./base64.ts";
import { enumValue, markNumbers, numberLiteral, scalarValue } from "./json-numbers.ts";

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

function kindOf(v: unknown, mark: string): string {
  if (Array.isArray(v)) return "array";
  if (numberLiteral(v, mark) !== undefined || typeof v === "number") return "number";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  return "value";
}

/**
 * The request's JSON as protobuf-es should read it, checked the way jsonpb does where its
 * texts differ: unknown fields are dropped (etcd's gateway ignores them), numbers are read
 * exactly per field type (json-numbers.ts), bad base64 and non-objects get Go's texts.
 */
function normalize(schema: DescMessage, json: unknown, mark: string, depth = 0): unknown {
  if (json === null) return null;
  // Only a nested Txn goes this deep; etcd refuses it for spending the operation budget.
  if (depth > MAX_MESSAGE_DEPTH) throw Errors.tooManyOps;
  if (typeof json !== "object" || Array.isArray(json)) {
    throw invalid(`json: cannot unmarshal ${kindOf(json, mark)} into Go value of type map[string]json.RawMessage`);
  }
  const obj = json as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(obj)) {
    const field = schema.fields.find((f) => f.name === key || f.jsonName === key);
    if (field === undefined) continue;
    const v = obj[key];
    if (v === null || v === undefined) {
      out[key] = v;
      continue;
    }
    switch (field.fieldKind) {
      case "scalar":
        if (field.scalar === ScalarType.BYTES && numberLiteral(v, mark) === undefined) checkBase64(v);
        out[key] = scalarValue(field.scalar, v, mark);
        break;
      case "enum":
        out[key] = enumValue(field.enum, v, mark);
        break;
      case "message":
        out[key] = normalize(field.message, v, mark, depth + 1);
        break;
      case "list":
        if (!Array.isArray(v)) {
          out[key] = numberLiteral(v, mark) !== undefined ? Number(numberLiteral(v, mark)) : v;
          break;
        }
        out[key] = v.map((item) => {
          if (item === null) return item;
          if (field.listKind === "message") return normalize(field.message, item, mark, depth + 1);
          if (field.listKind === "enum") return enumValue(field.enum, item, mark);
          if (field.scalar === ScalarType.BYTES && numberLiteral(item, mark) === undefined) checkBase64(item);
          return scalarValue(field.scalar, item, mark);
        });
        break;
      default:
        out[key] = v;
    }
  }
  return out;
}

function checkBase64(v: unknown): void {
  if (typeof v !== "string") return;
  const at = base64ErrorOffset(v);
  if (at >= 0) throw invalid(`illegal base64 data at input byte ${at}`);
}

function fromNormalized<T extends Message>(schema: DescMessage, json: unknown): T {
  try {
    return fromJson(schema, (json ?? {}) as JsonValue, { recursionLimit: MAX_MESSAGE_DEPTH }) as T;
  } catch (err) {
    // Only a nested Txn goes that deep; etcd refuses it for spending the operation budget.
    if (isTooDeep(err)) throw Errors.tooManyOps;
    throw invalid((err as Error).message);
  }
}

/** Parses an already-decoded JSON value (numbers as JSON numbers) into a request message; throws EtcdError(InvalidArgument). */
export function messageFromJsonValue<T extends Message>(schema: DescMessage, json: unknown): T {
  return fromNormalized(schema, normalize(schema, json, ""));
}

/**
 * Parses one JSON request text; an empty body is the empty request, as grpc-gateway treats
 * io.EOF. Numbers are read exactly (int64 above 2^53 included).
 */
export function decodeJson<T extends Message>(schema: DescMessage, text: string): T {
  if (text.trim() === "") return messageFromJsonValue(schema, {});
  const marked = markNumbers(text);
  let json: unknown;
  try {
    json = JSON.parse(marked.text);
  } catch {
    throw syntaxError(text);
  }
  return fromNormalized(schema, normalize(schema, json, marked.mark));
}

/** grpc-go's refusal of a message over the receive limit (the gateway's requests pass it too). */
export function messageTooLarge(n: number, max: number): EtcdError {
  return new EtcdError(Code.ResourceExhausted, `grpc: received message larger than max (${n} vs. ${max})`);
}

/**
 * One request of a streaming call's body (watch, keepalive): numbers read exactly, as in
 * decodeJson. Malformed JSON throws JSON.parse's SyntaxError; a message whose protobuf form
 * is over `maxRecvBytes` is refused as gRPC would refuse it.
 */
export function parseStreamRequest<T extends Message>(schema: DescMessage, text: string, maxRecvBytes: number): T {
  const marked = markNumbers(text);
  const msg = fromNormalized<T>(schema, normalize(schema, JSON.parse(marked.text), marked.mark));
  if (text.length > maxRecvBytes / 2) {
    const n = binarySize(schema, msg);
    if (n > maxRecvBytes) throw messageTooLarge(n, maxRecvBytes);
  }
  return msg;
}

/** Encoded protobuf size, for the gRPC receive limit the gateway's requests also pass. */
export function binarySize(schema: DescMessage, msg: Message): number {
  return toBinary(schema, msg).length;
}
