// grpc-gateway JSON for etcd's messages: proto field names out (int64 as strings, bytes as
// base64, enums by name, zero values omitted); proto or camelCase names in, numbers read
// exactly, unknown fields ignored (as etcd's gateway does), with Go's error texts for the
// failures clients see (syntax, bad base64, numbers that do not fit, not an object).
import {
  fromJson,
  ScalarType,
  toBinary,
  toJson,
  type DescEnum,
  type DescMessage,
  type JsonValue,
  type Message,
} from "@bufbuild/protobuf";
import { Code, Errors, EtcdError, goDecodeFirst } from "../../rpctypes/index.ts";
import { isTooDeep, MAX_MESSAGE_DEPTH } from "../grpc/framing.ts";
import { base64ErrorOffset } from "./base64.ts";
import { enumValue, goEnumName, goScalarName, markNumbers, numberLiteral, scalarValue } from "./json-numbers.ts";

const invalid = (msg: string) => new EtcdError(Code.InvalidArgument, msg);

export function encodeJson(schema: DescMessage, msg: Message): string {
  return JSON.stringify(toJson(schema, msg, { useProtoFieldName: true }));
}

/** The JSON value of a message, for embedding (stream results). */
export function toJsonValue(schema: DescMessage, msg: Message): JsonValue {
  return toJson(schema, msg, { useProtoFieldName: true });
}

/** encoding/json's name for the kind of a JSON value, as its UnmarshalTypeError says it. */
function kindOf(v: unknown, mark: string): string {
  if (Array.isArray(v)) return "array";
  if (numberLiteral(v, mark) !== undefined || typeof v === "number") return "number";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  return "object";
}

const mismatch = (kind: string, goType: string) => invalid(`json: cannot unmarshal ${kind} into Go value of type ${goType}`);

/**
 * A scalar field's value checked the way encoding/json reads it into the field's Go type: the
 * wrong kind of JSON value gets its UnmarshalTypeError text, and bytes may also come as an
 * array of numbers (Go reads a []byte from one, element by element).
 */
function scalarIn(type: ScalarType, v: unknown, mark: string): unknown {
  const kind = kindOf(v, mark);
  switch (type) {
    case ScalarType.BYTES:
      if (kind === "string") {
        checkBase64(v);
        return v;
      }
      if (kind === "array") return Buffer.from((v as unknown[]).map((b) => byteIn(b, mark))).toString("base64");
      if (kind !== "number") throw mismatch(kind, "[]uint8");
      break;
    case ScalarType.BOOL:
      if (kind !== "bool") throw mismatch(kind, "bool");
      return v;
    case ScalarType.STRING:
      if (kind !== "string") throw mismatch(kind, "string");
      return v;
    default:
      if (kind === "bool" || kind === "array" || kind === "object") throw mismatch(kind, goScalarName(type));
  }
  return scalarValue(type, v, mark);
}

/** One element of a []byte given as an array: a number 0..255 (null leaves it 0, as in Go). */
function byteIn(v: unknown, mark: string): number {
  if (v === null) return 0;
  const lit = numberLiteral(v, mark);
  if (lit === undefined) throw mismatch(kindOf(v, mark), "uint8");
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lit) || Number(lit) > 255) throw invalid(`json: cannot unmarshal number ${lit} into Go value of type uint8`);
  return Number(lit);
}

/** An enum field's value: a known name or a number; anything else as jsonpb refuses it. */
function enumIn(e: DescEnum, v: unknown, mark: string): unknown {
  const kind = kindOf(v, mark);
  if (kind === "string") {
    if (e.values.some((x) => x.name === v)) return v;
    throw invalid(`unknown value ${JSON.stringify(v)} for enum ${goEnumName(e)}`);
  }
  if (kind !== "number") throw mismatch(kind, goEnumName(e));
  return enumValue(e, v, mark);
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
        out[key] = scalarIn(field.scalar, v, mark);
        break;
      case "enum":
        out[key] = enumIn(field.enum, v, mark);
        break;
      case "message":
        out[key] = normalize(field.message, v, mark, depth + 1);
        break;
      case "list":
        // jsonpb reads a repeated field into a []json.RawMessage first.
        if (!Array.isArray(v)) throw mismatch(kindOf(v, mark), "[]json.RawMessage");
        out[key] = v.map((item) => {
          if (item === null) return item;
          if (field.listKind === "message") return normalize(field.message, item, mark, depth + 1);
          if (field.listKind === "enum") return enumIn(field.enum, item, mark);
          return scalarIn(field.scalar, item, mark);
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
  // Like the gateway's json.Decoder: the first value is the request, what follows it is left
  // unread, and a syntax error is reported in Go's words.
  const first = goDecodeFirst(text);
  if ("error" in first) throw invalid(first.error);
  const marked = markNumbers(text.slice(0, first.end));
  return fromNormalized(schema, normalize(schema, JSON.parse(marked.text), marked.mark));
}

/** grpc-go's refusal of a message over the receive limit (the gateway's requests pass it too). */
export function messageTooLarge(n: number, max: number): EtcdError {
  return new EtcdError(Code.ResourceExhausted, `grpc: received message larger than max (${n} vs. ${max})`);
}

/**
 * One request of a streaming call's body (watch, keepalive): numbers read exactly, as in
 * decodeJson. Malformed JSON throws InvalidArgument with Go's text; a message whose protobuf form
 * is over `maxRecvBytes` is refused as gRPC would refuse it.
 */
export function parseStreamRequest<T extends Message>(schema: DescMessage, text: string, maxRecvBytes: number): T {
  const marked = markNumbers(text);
  let json: unknown;
  try {
    json = JSON.parse(marked.text);
  } catch {
    const first = goDecodeFirst(text);
    throw invalid("error" in first ? first.error : "unexpected EOF");
  }
  const msg = fromNormalized<T>(schema, normalize(schema, json, marked.mark));
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
