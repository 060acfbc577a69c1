// The sending end of a message stream: a raw net/tls connection that writes the upgrade request by
// hand and reads the answer's status line and headers up to the blank line. node:http's client is
// not used: the socket is ours for the stream's whole life and nothing else parses it.
import type { IncomingHttpHeaders } from "node:http";
import { connect as netConnect, isIP, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { type ClientTls, type PeerResponse, tlsConnectOptions } from "./http-client.ts";
import { isSecureUrl, isUnixUrl, socketPath } from "./unix-url.ts";
import { Paths, STREAM_PROTOCOL } from "./wire.ts";

export type DialResult =
  /** 101: the socket now carries frames to the peer. */
  | { readonly ok: true; readonly socket: Socket }
  /** Any other answer (the socket is closed): 404 from a member without streams, 410, 412. */
  | { readonly ok: false; readonly response: PeerResponse };

export interface Dial {
  /** Rejects on a network failure, a timeout or a garbled answer. */
  readonly result: Promise<DialResult>;
  /** Gives up (the result rejects unless it already settled). */
  abort(): void;
}

/** An answer longer than this (headers or body) is not from a member. */
const MAX_ANSWER = 64 * 1024;

export function dialStream(url: URL, headers: Record<string, string>, tls: ClientTls | undefined, timeoutMs: number): Dial {
  const secure = isSecureUrl(url);
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const port = Number(url.port || (secure ? 443 : 80));
  const where = isUnixUrl(url) ? { path: socketPath(url) } : { host, port };
  let socket: Socket;
  let settle: { ok: (r: DialResult) => void; ko: (e: Error) => void };
  const result = new Promise<DialResult>((ok, ko) => {
    settle = { ok, ko };
  });
  let done = false;
  const fail = (e: Error) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.destroy();
    settle.ko(e);
  };
  const request = () => {
    const lines = [`GET ${Paths.stream} HTTP/1.1`, `Host: ${url.host}`, "Connection: Upgrade", `Upgrade: ${STREAM_PROTOCOL}`];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    socket.setNoDelay(true);
    socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  };
  if (secure) {
    const d = tls?.();
    socket = tlsConnect({ ...where, ...(isIP(host) === 0 ? { servername: host } : {}), ...(d ? tlsConnectOptions(d) : {}) }, request);
  } else {
    socket = netConnect(where, request);
  }
  const timer = setTimeout(() => fail(new Error(`stream to ${url.href} not answered within ${timeoutMs} ms`)), timeoutMs);

  let buf: Buffer = Buffer.alloc(0);
  let answer: { status: number; headers: IncomingHttpHeaders; bodyStart: number; length: number | undefined } | undefined;
  const finishRefusal = (end: boolean) => {
    const a = answer!;
    const body = buf.subarray(a.bodyStart);
    if (!end && (a.length === undefined || body.length < a.length)) return;
    done = true;
    clearTimeout(timer);
    socket.off("data", onData);
    socket.destroy();
    settle.ok({ ok: false, response: { status: a.status, headers: a.headers, body: a.length === undefined ? body : body.subarray(0, a.length) } });
  };
  const onData = (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    if (buf.length > MAX_ANSWER) return fail(new Error(`stream answer from ${url.href} exceeds ${MAX_ANSWER} bytes`));
    if (answer !== undefined) return finishRefusal(false);
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0) return;
    const parsed = parseHead(buf.subarray(0, end).toString("latin1"));
    if (parsed === undefined) return fail(new Error(`garbled stream answer from ${url.href}`));
    if (parsed.status === 101) {
      if ((String(parsed.headers.upgrade ?? "")).toLowerCase() !== STREAM_PROTOCOL) {
        return fail(new Error(`stream answer from ${url.href} upgraded to another protocol`));
      }
      done = true;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      settle.ok({ ok: true, socket });
      return;
    }
    const cl = parsed.headers["content-length"];
    const length = cl !== undefined && /^[0-9]+$/.test(cl) ? Number(cl) : undefined;
    answer = { status: parsed.status, headers: parsed.headers, bodyStart: end + 4, length };
    finishRefusal(false);
  };
  const onEnd = () => {
    if (answer !== undefined) finishRefusal(true);
    else fail(new Error(`stream to ${url.href} closed before an answer`));
  };
  socket.on("data", onData);
  socket.on("end", onEnd);
  socket.on("error", (e) => fail(e));
  socket.on("close", () => fail(new Error(`stream to ${url.href} closed before an answer`)));
  return { result, abort: () => fail(new Error("stream dial aborted")) };
}

function parseHead(text: string): { status: number; headers: IncomingHttpHeaders } | undefined {
  const lines = text.split("\r\n");
  const m = /^HTTP\/1\.[01] ([0-9]{3})(?: .*)?$/.exec(lines[0] ?? "");
  if (m === null) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i <= 0) return undefined;
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(m[1]), headers };
}
