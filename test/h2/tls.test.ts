// The engine over TLS: ALPN selects "h2", then serveH2 runs on the TLSSocket.
import { test, expect, afterAll } from "bun:test";
import * as tls from "node:tls";
import * as http2 from "node:http2";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serveH2 } from "../../src/api/h2/index.ts";

const dir = mkdtempSync(join(tmpdir(), "h2-tls-"));
const gen = spawnSync("openssl", [
  "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
  "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
  "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
]);
if (gen.status !== 0) throw new Error(`openssl failed: ${gen.stderr}`);
const cert = readFileSync(join(dir, "cert.pem"));
const key = readFileSync(join(dir, "key.pem"));

const server = tls.createServer({ cert, key, ALPNProtocols: ["h2"] }, (sock) => {
  serveH2(sock, {
    onStream(s) {
      const parts: Uint8Array[] = [];
      s.ondata = (c) => parts.push(c);
      s.onend = () => {
        s.respond([[":status", "200"], ["x-alpn", String(sock.alpnProtocol)], ["content-type", "application/grpc"]]);
        // KV/Put gets an empty PutResponse; anything else is echoed.
        s.write(s.headers.get(":path") === "/etcdserverpb.KV/Put" ? new Uint8Array(5) : Buffer.concat(parts));
        s.end([["grpc-status", "0"]]);
      };
    },
  });
});
const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

test("node:http2 over TLS with ALPN h2", async () => {
  const client = http2.connect(`https://127.0.0.1:${port}`, { ca: cert });
  const res = await new Promise<{ alpn: string; body: string; status: string }>((resolve, reject) => {
    const req = client.request({ ":method": "POST", ":path": "/echo" });
    let alpn = "";
    let status = "";
    const chunks: Buffer[] = [];
    req.on("response", (h) => { alpn = String(h["x-alpn"]); status = String(h[":status"]); });
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve({ alpn, status, body: Buffer.concat(chunks).toString() }));
    req.on("error", reject);
    req.end("over tls ".repeat(10000));
  });
  client.close();
  expect(res.status).toBe("200");
  expect(res.alpn).toBe("h2");
  expect(res.body).toBe("over tls ".repeat(10000));
});

test("etcdctl put over TLS", async () => {
  const child = spawn("/usr/bin/etcdctl", [`--endpoints=127.0.0.1:${port}`, `--cacert=${join(dir, "cert.pem")}`, "--command-timeout=5s", "put", "k", "v"], {
    env: { PATH: process.env.PATH ?? "/usr/bin", ETCDCTL_API: "3" },
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d));
  child.stderr.on("data", (d: Buffer) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  expect(err).toBe("");
  expect(out).toBe("OK\n");
  expect(code).toBe(0);
});
