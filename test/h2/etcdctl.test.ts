// The real etcdctl (grpc-go client) against a tiny gRPC handler on the h2 engine.
import { test, expect, afterAll } from "bun:test";
import * as net from "node:net";
import { spawn } from "node:child_process";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { PutRequestSchema, PutResponseSchema, RangeRequestSchema, RangeResponseSchema, ResponseHeaderSchema } from "../../src/gen/rpc_pb.ts";

// int64 fields are bigint or number depending on the generator's jstype option.
const zero = create(ResponseHeaderSchema).revision;
const int64 = (n: number) => (typeof zero === "bigint" ? BigInt(n) : n) as typeof zero;
import { serveH2, type H2Stream } from "../../src/api/h2/index.ts";

const puts: Array<[string, string]> = [];
const errors: Error[] = [];

function grpcFrame(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + msg.length);
  new DataView(out.buffer).setUint32(1, msg.length);
  out.set(msg, 5);
  return out;
}

function onStream(s: H2Stream): void {
  const path = s.headers.get(":path");
  const chunks: Uint8Array[] = [];
  s.ondata = (c) => chunks.push(c);
  s.onend = () => {
    const body = Buffer.concat(chunks).subarray(5);
    let reply: Uint8Array;
    if (path === "/etcdserverpb.KV/Put") {
      const req = fromBinary(PutRequestSchema, body);
      puts.push([Buffer.from(req.key).toString(), Buffer.from(req.value).toString()]);
      reply = toBinary(PutResponseSchema, create(PutResponseSchema, {}));
    } else if (path === "/etcdserverpb.KV/Range") {
      const req = fromBinary(RangeRequestSchema, body);
      reply = toBinary(RangeResponseSchema, create(RangeResponseSchema, {
        header: { revision: int64(7) },
        kvs: [{ key: req.key, value: new TextEncoder().encode("value-of-" + Buffer.from(req.key).toString()), createRevision: int64(2), modRevision: int64(7), version: int64(3) }],
        count: int64(1),
      }));
    } else {
      s.respond([[":status", "200"], ["content-type", "application/grpc"], ["grpc-status", "12"], ["grpc-message", "unknown"]], true);
      return;
    }
    s.respond([[":status", "200"], ["content-type", "application/grpc"]]);
    s.write(grpcFrame(reply));
    s.end([["grpc-status", "0"]]);
  };
}

const server = net.createServer((sock) => serveH2(sock, { onStream, onError: (e) => errors.push(e) }));
const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)));
afterAll(() => server.close());

function etcdctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin", ETCDCTL_API: "3" };
  const child = spawn("/usr/bin/etcdctl", [`--endpoints=127.0.0.1:${port}`, "--command-timeout=5s", ...args], { env });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (d: Buffer) => out.push(d));
  child.stderr.on("data", (d: Buffer) => err.push(d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() })));
}

test("etcdctl put prints OK and the handler sees key and value", async () => {
  const r = await etcdctl("put", "a", "b");
  expect(r.stderr).toBe("");
  expect(r.stdout).toBe("OK\n");
  expect(r.code).toBe(0);
  expect(puts).toContainEqual(["a", "b"]);
});

test("etcdctl get prints the key and value of the Range response", async () => {
  const r = await etcdctl("get", "foo");
  expect(r.code).toBe(0);
  expect(r.stdout).toBe("foo\nvalue-of-foo\n");
  const j = await etcdctl("get", "foo", "-w", "json");
  expect(JSON.parse(j.stdout).header.revision).toBe(7);
});

test("an unimplemented method reaches etcdctl as a gRPC error", async () => {
  const r = await etcdctl("lease", "grant", "10");
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("unknown");
  expect(errors).toEqual([]);
});
