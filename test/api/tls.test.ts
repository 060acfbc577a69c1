// TLS on the client port: ALPN h2 → gRPC, http/1.1 → HTTP routes, on one listener.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startClientServer, type ClientServer } from "../../src/api/index.ts";
import { silentLogger } from "../../src/server/logger.ts";
import { createTls } from "../../src/tls/index.ts";
import { FakeServer } from "./fake-server.ts";

let dir: string;
let srv: ClientServer;
let port: number;
let cert: Buffer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "api-tls-"));
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
  ], { stdio: "ignore" });
  cert = readFileSync(join(dir, "cert.pem"));
  srv = await startClientServer({
    server: new FakeServer(),
    listenUrls: [new URL("https://127.0.0.1:0")],
    tls: await createTls(
      {
        certFile: join(dir, "cert.pem"), keyFile: join(dir, "key.pem"), trustedCaFile: "", clientCertAuth: false,
        crlFile: "", allowedCn: "", allowedHostname: "", checkSan: false, selfCert: false, cipherSuites: [],
      },
      { logger: silentLogger },
    ),
    logger: silentLogger,
  });
  port = Number(srv.addresses[0]!.port);
});
afterAll(async () => {
  await srv.close();
  rmSync(dir, { recursive: true, force: true });
});

test("etcdctl over TLS (ALPN h2)", async () => {
  const out = await new Promise<string>((resolve, reject) => {
    execFile(
      "/usr/bin/etcdctl",
      [`--endpoints=https://127.0.0.1:${port}`, `--cacert=${join(dir, "cert.pem")}`, "--dial-timeout=3s", "put", "k", "v"],
      { env: { ...process.env, ETCDCTL_API: "3" } },
      (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout)),
    );
  });
  expect(out).toBe("OK\n");
});

test("HTTPS/1.1 reaches /version on the same port", async () => {
  const body = await new Promise<string>((resolve, reject) => {
    https
      .get({ host: "127.0.0.1", port, path: "/version", ca: cert } as https.RequestOptions, (res) => {
        let t = "";
        res.on("data", (c) => (t += c));
        res.on("end", () => resolve(t));
      })
      .on("error", reject);
  });
  expect(JSON.parse(body)).toEqual({ etcdserver: "3.4.23", etcdcluster: "3.4.0" });
});
