// An expected failure: a gRPC status code and etcd's exact text. The text is part of the wire
// contract (clientv3 maps errors by message), so never reword one.
import { CODE_NAMES, type Code } from "./code.ts";

export class EtcdError extends Error {
  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message);
    this.name = "EtcdError";
  }

  /** grpc-go's Error() text: what etcd puts into a watch's cancel_reason. */
  get grpcText(): string {
    return `rpc error: code = ${CODE_NAMES[this.code] ?? this.code} desc = ${this.message}`;
  }
}

export function isEtcdError(x: unknown): x is EtcdError {
  return x instanceof EtcdError;
}
