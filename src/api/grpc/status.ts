// gRPC status for any failure an adapter sees, and the trailer encoding of its message.
import { Code, EtcdError, isEtcdError } from "../../server/errors.ts";

/** The (code, message) pair a failure becomes on the wire. */
export interface GrpcStatus {
  readonly code: Code;
  readonly message: string;
}

/**
 * EtcdError keeps its code and etcd's exact text; anything else is Unknown with its raw text,
 * which is what grpc-go does with a plain Go error returned by a handler.
 */
export function toStatus(err: unknown): GrpcStatus {
  if (isEtcdError(err)) return err;
  if (err instanceof Error) return { code: Code.Unknown, message: err.message };
  return { code: Code.Unknown, message: String(err) };
}

/** A transport-level failure (framing, limits, routing) with grpc-go's wording. */
export function grpcError(code: Code, message: string): EtcdError {
  return new EtcdError(code, message);
}

// Percent-encoding per the gRPC HTTP/2 spec: bytes outside 0x20..0x7e, and '%', are escaped.
const HEX = "0123456789ABCDEF";
export function encodeGrpcMessage(msg: string): string {
  let plain = true;
  for (let i = 0; i < msg.length; i++) {
    const c = msg.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return msg;
  const bytes = new TextEncoder().encode(msg);
  let out = "";
  for (const b of bytes) {
    if (b < 0x20 || b > 0x7e || b === 0x25) out += "%" + HEX[b >> 4] + HEX[b & 15];
    else out += String.fromCharCode(b);
  }
  return out;
}

export function decodeGrpcMessage(msg: string): string {
  if (!msg.includes("%")) return msg;
  const bytes: number[] = [];
  for (let i = 0; i < msg.length; i++) {
    const c = msg.charCodeAt(i);
    if (c === 0x25 && i + 2 < msg.length && /^[0-9a-fA-F]{2}$/.test(msg.slice(i + 1, i + 3))) {
      bytes.push(parseInt(msg.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(c);
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}
