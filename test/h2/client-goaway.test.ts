// The client mode of the HTTP/2 engine after the server's GOAWAY (a member shutting down):
// streams the server still serves run on and end when the socket goes (before, they were left
// open forever and a `watch` quietly exited); the connection closes with its last stream.
import { expect, test } from "bun:test";
import type { Socket } from "node:net";
import { connectH2, type H2StreamError } from "../../src/api/h2/index.ts";
import { block, F, FakeSocket, frame, T } from "./fake-peer.ts";

function goaway(last: number, code = 0): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(last, 0);
  p.writeUInt32BE(code, 4);
  return frame(T.GOAWAY, 0, 0, p);
}

const request = [[":method", "POST"], [":scheme", "http"], [":path", "/etcdserverpb.Watch/Watch"], [":authority", "x"]] as Array<[string, string]>;

test("a stream below GOAWAY's last-stream-id ends with an error when the socket closes", () => {
  const sock = new FakeSocket();
  const conn = connectH2(sock as unknown as Socket);
  const ends: Array<H2StreamError | undefined | "open"> = ["open", "open"];
  const s1 = conn.request(request);
  const s3 = conn.request(request);
  s1.onclose = (e) => (ends[0] = e);
  s3.onclose = (e) => (ends[1] = e);
  sock.emit("data", goaway(1));
  expect(conn.dead).toBe(true);
  // Stream 3 was never processed: refused (safe to retry); stream 1 is still being served.
  expect(ends[0]).toBe("open");
  expect((ends[1] as H2StreamError).refused).toBe(true);
  sock.emit("close");
  expect(ends[0]).not.toBe("open");
  expect((ends[0] as H2StreamError).message).toBe("transport is closing");
  expect(sock.destroyed).toBe(true);
});

test("after GOAWAY the connection closes once its last stream has ended", () => {
  const sock = new FakeSocket();
  const conn = connectH2(sock as unknown as Socket);
  let closed = false;
  conn.onclose = () => (closed = true);
  const s1 = conn.request(request);
  let ended: unknown = "open";
  s1.onclose = (e) => (ended = e);
  sock.emit("data", goaway(1));
  expect(closed).toBe(false);
  const trailers = block([[":status", "200"], ["grpc-status", "0"]]);
  sock.emit("data", frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, trailers));
  expect(ended).toBeUndefined();
  expect(closed).toBe(true);
  expect(sock.destroyed).toBe(true);
});
