// v2 auth with client certificates (runs against either target): with --client-cert-auth and no
// Authorization header, the certificate's common name names the v2 user (keys and the security
// API); a name that is no user falls back to the guest role; a Basic header takes precedence.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { freePorts, LineProcess, makeTempDir, memberBinary, pollUntil, removeDir } from "../helpers/index.ts";

let dir: string;
let proc: LineProcess | undefined;
let base: string;
const certs: Record<string, { cert: string; key: string }> = {};
let ca: string;

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: "ignore" });
}

/** A key pair signed by the test CA for `cn` (server certificates also get 127.0.0.1). */
function issue(cn: string, server = false): void {
  const key = join(dir, `${cn}-key.pem`);
  const csr = join(dir, `${cn}.csr`);
  const crt = join(dir, `${cn}.pem`);
  const ext = join(dir, `${cn}.ext`);
  Bun.write(ext, server ? "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n" : "extendedKeyUsage=clientAuth\n");
  openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", `/CN=${cn}`, "-keyout", key, "-out", csr]);
  openssl(["x509", "-req", "-in", csr, "-CA", join(dir, "ca.pem"), "-CAkey", join(dir, "ca-key.pem"), "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", crt]);
  certs[cn] = { cert: readFileSync(crt, "utf8"), key: readFileSync(key, "utf8") };
}

interface Answer {
  status: number;
  body: string;
}

async function req(as: string, method: string, path: string, opts: { form?: string; json?: string; basic?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (opts.form !== undefined) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = opts.form;
  }
  if (opts.json !== undefined) {
    headers["content-type"] = "application/json";
    body = opts.json;
  }
  if (opts.basic !== undefined) headers.authorization = `Basic ${Buffer.from(opts.basic).toString("base64")}`;
  const res = await fetch(base + path, { method, headers, body, tls: { ...certs[as]!, ca } } as RequestInit);
  return { status: res.status, body: await res.text() };
}

beforeAll(async () => {
  dir = makeTempDir("v2-tls");
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=test-ca", "-keyout", join(dir, "ca-key.pem"), "-out", join(dir, "ca.pem")]);
  ca = readFileSync(join(dir, "ca.pem"), "utf8");
  issue("server", true);
  for (const cn of ["root", "u1", "nobody"]) issue(cn);
  const [cp, pp] = await freePorts(2);
  base = `https://127.0.0.1:${cp}`;
  const peer = `http://127.0.0.1:${pp}`;
  proc = new LineProcess(memberBinary(), [
    "--name", "default", "--data-dir", join(dir, "data"),
    "--listen-client-urls", base, "--advertise-client-urls", base,
    "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", `default=${peer}`,
    "--cert-file", join(dir, "server.pem"), "--key-file", join(dir, "server-key.pem"),
    "--trusted-ca-file", join(dir, "ca.pem"), "--client-cert-auth", "--enable-v2=true",
  ], {});
  await pollUntil(
    async () => {
      try {
        const r = await req("root", "GET", "/v2/keys/");
        return r.status === 200 ? true : undefined;
      } catch {
        return undefined;
      }
    },
    20_000,
    "member serving v2 over TLS",
  );
}, 60_000);

afterAll(async () => {
  await proc?.kill();
  if (dir) removeDir(dir);
});

test("a verified certificate's common name is the v2 user when no Authorization header is sent", async () => {
  expect((await req("root", "PUT", "/v2/auth/users/root", { json: '{"user":"root","password":"rootpw"}' })).status).toBe(201);
  expect((await req("root", "PUT", "/v2/auth/roles/r1", { json: '{"role":"r1","permissions":{"kv":{"read":["/pub/*"],"write":["/pub/*"]}}}' })).status).toBe(201);
  expect((await req("root", "PUT", "/v2/auth/users/u1", { json: '{"user":"u1","password":"pw1","roles":["r1"]}' })).status).toBe(200);
  expect((await req("root", "PUT", "/v2/auth/enable", { basic: "root:rootpw" })).status).toBe(200);
  // The guest role (read+write /*) is narrowed to nothing, so only named users get through.
  const revoke = await req("root", "PUT", "/v2/auth/roles/guest", { json: '{"role":"guest","revoke":{"kv":{"read":["/*"],"write":["/*"]}}}', basic: "root:rootpw" });
  expect(revoke.status).toBe(200);

  // u1 by certificate: its role's keys only.
  expect((await req("u1", "PUT", "/v2/keys/pub/a", { form: "value=by-cert" })).status).toBe(201);
  const denied = await req("u1", "PUT", "/v2/keys/other", { form: "value=x" });
  expect([denied.status, denied.body]).toEqual([401, '{"errorCode":110,"message":"The request requires user authentication","cause":"Insufficient credentials","index":0}\n']);
  // A certificate naming no user is a guest (who may do nothing now).
  expect((await req("nobody", "GET", "/v2/keys/pub/a")).status).toBe(401);
  // A Basic header takes precedence over the certificate.
  expect((await req("u1", "GET", "/v2/keys/pub/a", { basic: "u1:wrong" })).status).toBe(401);
  expect((await req("nobody", "GET", "/v2/keys/pub/a", { basic: "u1:pw1" })).status).toBe(200);
  // The security API: root by certificate; u1 by certificate is not root.
  expect((await req("root", "GET", "/v2/auth/users")).status).toBe(200);
  const notRoot = await req("u1", "GET", "/v2/auth/users");
  expect([notRoot.status, notRoot.body]).toEqual([401, '{"message":"Insufficient credentials"}']);
  expect((await req("root", "DELETE", "/v2/auth/enable")).status).toBe(200);
  expect((await req("nobody", "PUT", "/v2/keys/other", { form: "value=open" })).status).toBe(201);
}, 60_000);
