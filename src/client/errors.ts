// Errors the client library reports, worded as clientv3 reports them.
//
// clientv3 turns a gRPC status whose message is one of etcd's known texts into an error that
// prints as the bare text ("etcdserver: key is not provided"); any other status prints as
// grpc-go formats it ("rpc error: code = Unavailable desc = …"); a deadline or cancellation of
// the caller's own context prints as Go's context error ("context deadline exceeded").
// The codes and texts are the shared catalogue's (src/rpctypes).
import { Code, CODE_NAMES, Errors } from "../rpctypes/index.ts";

/**
 * The texts clientv3 3.4 recognises (rpctypes.errStringToError): the catalogue less the entries
 * its map does not hold, which it prints with their gRPC wrapping.
 */
const NOT_IN_CLIENTV3_MAP: ReadonlySet<string> = new Set([Errors.watchCanceled.message, Errors.clusterIdMismatch.message, Errors.permissionNotGiven.message]);
const CLIENTV3_KNOWN: ReadonlySet<string> = new Set(Object.values(Errors).map((e) => e.message).filter((m) => !NOT_IN_CLIENTV3_MAP.has(m)));

/**
 * A failed call. `message` is the server's (or transport's) text; String(err) / err.text is
 * what etcdctl would print after "Error: ".
 */
export class ClientError extends Error {
  /** Set when the request may never have reached a server (safe to send again anywhere). */
  notSent = false;
  constructor(
    /** A gRPC status code (rpctypes' Code). */
    readonly code: number,
    message: string,
    /** "context": the caller's deadline or cancellation (Go's context error texts). */
    readonly kind: "status" | "context" = "status",
  ) {
    super(message);
  }

  /** True when the text is one of etcd's own (clientv3 prints it bare). */
  get isEtcd(): boolean {
    return this.kind === "status" && CLIENTV3_KNOWN.has(this.message);
  }

  /** The text as clientv3's error would print it. */
  get text(): string {
    if (this.kind === "context" || this.isEtcd) return this.message;
    return `rpc error: code = ${CODE_NAMES[this.code] ?? `Code(${this.code})`} desc = ${this.message}`;
  }

  /** True for the status etcd answers with this catalogue entry (same text, from a server). */
  is(e: { readonly message: string }): boolean {
    return this.kind === "status" && this.message === e.message;
  }

  override toString(): string {
    return this.text;
  }
}

export function deadlineExceeded(): ClientError {
  return new ClientError(Code.DeadlineExceeded, "context deadline exceeded", "context");
}

export function canceled(): ClientError {
  return new ClientError(Code.Canceled, "context canceled", "context");
}
