// The v2 keys wire format as far as the discovery protocol uses it: nodes, events, errors.
// Shared by the member's discovery client and `conclave discovery`, so both sides agree on
// one definition (valibot schemas for what is read, builders for what is written).
import * as v from "valibot";

export interface V2Node {
  key: string;
  value?: string;
  dir?: true;
  nodes?: V2Node[];
  modifiedIndex: number;
  createdIndex: number;
}

export interface V2Event {
  action: string;
  node: V2Node;
  prevNode?: V2Node;
}

export interface V2ErrorBody {
  errorCode: number;
  message: string;
  cause: string;
  index: number;
}

const uint = v.pipe(v.number(), v.integer(), v.minValue(0));

export const V2NodeSchema: v.GenericSchema<V2Node> = v.object({
  key: v.string(),
  value: v.optional(v.string()),
  dir: v.optional(v.literal(true)),
  nodes: v.optional(v.array(v.lazy(() => V2NodeSchema))),
  modifiedIndex: v.optional(uint, 0),
  createdIndex: v.optional(uint, 0),
}) as v.GenericSchema<V2Node>;

export const V2EventSchema = v.object({
  action: v.string(),
  node: V2NodeSchema,
  prevNode: v.optional(V2NodeSchema),
});

export const V2ErrorSchema = v.object({
  errorCode: uint,
  message: v.optional(v.string(), ""),
  cause: v.optional(v.string(), ""),
  index: v.optional(uint, 0),
});

/** v2 error codes the discovery protocol meets, with etcd's texts and HTTP statuses. */
export const V2_ERRORS = {
  keyNotFound: { code: 100, message: "Key not found", status: 404 },
  testFailed: { code: 101, message: "Compare failed", status: 412 },
  notFile: { code: 102, message: "Not a file", status: 403 },
  notDir: { code: 104, message: "Not a directory", status: 400 },
  nodeExist: { code: 105, message: "Key already exists", status: 412 },
  rootReadOnly: { code: 107, message: "Root is read only", status: 400 },
  dirNotEmpty: { code: 108, message: "Directory not empty", status: 403 },
  valueRequired: { code: 200, message: "Value is Required in POST form", status: 400 },
  indexNaN: { code: 203, message: "The given index in POST form is not a number", status: 400 },
  invalidField: { code: 209, message: "Invalid field", status: 400 },
  invalidForm: { code: 210, message: "Invalid POST form", status: 400 },
  eventIndexCleared: { code: 401, message: "The event in requested index is outdated and cleared", status: 400 },
} as const;

export type V2ErrorKind = keyof typeof V2_ERRORS;

export function v2ErrorBody(kind: V2ErrorKind, cause: string, index: number): V2ErrorBody {
  const e = V2_ERRORS[kind];
  return { errorCode: e.code, message: e.message, cause, index };
}

/** The Go v2 client's client.Error text: "100: Key not found (/x) [7]". */
export function formatV2Error(e: V2ErrorBody): string {
  return `${e.errorCode}: ${e.message} (${e.cause}) [${e.index}]`;
}
