// The (code, message) pair any failure becomes on the wire, whatever the protocol.
import { Code } from "./code.ts";
import { isEtcdError } from "./error.ts";

export interface Status {
  readonly code: Code;
  readonly message: string;
}

/**
 * EtcdError keeps its code and etcd's exact text; anything else is Unknown with its raw text,
 * which is what grpc-go does with a plain Go error returned by a handler (etcd's togRPCError
 * for errors outside its map).
 */
export function toStatus(err: unknown): Status {
  if (isEtcdError(err)) return err;
  if (err instanceof Error) return { code: Code.Unknown, message: err.message };
  return { code: Code.Unknown, message: String(err) };
}
