// The v2 keys wire format as far as the discovery protocol uses it: nodes, events, errors as
// read. Shared by the member's discovery client and `conclave discovery`, so both sides agree
// on one definition (valibot schemas for what is read). The errors a server writes, with their
// codes, texts and statuses, are the catalogue's (src/rpctypes/v2.ts: V2Error).
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

/** The Go v2 client's client.Error text: "100: Key not found (/x) [7]". */
export function formatV2Error(e: V2ErrorBody): string {
  return `${e.errorCode}: ${e.message} (${e.cause}) [${e.index}]`;
}
