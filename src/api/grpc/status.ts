// gRPC wire details of a status: grpc-go's transport errors and the trailer encoding of the
// message. Which status a failure becomes is decided by rpctypes (toStatus).
import { type Code, EtcdError } from "../../rpctypes/index.ts";

export { toStatus, type Status as GrpcStatus } from "../../rpctypes/index.ts";

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
