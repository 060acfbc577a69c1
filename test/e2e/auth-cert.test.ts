// --client-cert-auth: the verified client certificate's CN is the user on gRPC when no token
// is sent (etcdctl --cert/--key); a token wins over the CN; the JSON gateway ignores the CN.
// Certificates are made with openssl here. Runs against etcd too (E2E_TARGET=etcd).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { Agent, request } from "node:https";
import { readFileSync, writeFileSync } from "node:fs";
import { b64, errorLine, makeTempDir, Member, removeDir, runEtcdctl } from "../helpers/index.ts";

const dir = makeTempDir("auth-cert");
const f = (n: string) => join(dir, n);
const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

function makeCerts(): void {
  ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test-ca");
  const leaf = (name: string, cn: string, ext: string) => {
    ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}-key.pem`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
    writeFileSync(f(`${name}.ext`), ext);
    ssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`);
  };
  leaf("server", "server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n");
  for (const u of ["root", "alice", "bob"]) leaf(`client-${u}`, u, "extendedKeyUsage=clientAuth\n");
}

let member: Member;
beforeAll(async () => {
  makeCerts();
  member = await Member.start({
    extraArgs: ["--cert-file", f("server.pem"), "--key-file", f("server-key.pem"), "--trusted-ca-file", f("ca.pem"), "--client-cert-auth"],
    clientTls: { ca: readFileSync(f("ca.pem"), "utf8"), cert: readFileSync(f("client-root.pem"), "utf8"), key: readFileSync(f("client-root-key.pem"), "utf8") },
  });
}, 30_000);
afterAll(async () => {
  await member?.cleanup();
  removeDir(dir);
});

const ctl = (user: string | null, ...args: string[]) =>
  runEtcdctl(member.endpoint, ["--cacert", f("ca.pem"), ...(user === null ? [] : ["--cert", f(`client-${user}.pem`), "--key", f(`client-${user}-key.pem`)]), ...args]);

test("the certificate's CN is the user: root manages, alice gets her prefix only", async () => {
  for (const args of [["user", "add", "root", "--no-password"], ["role", "add", "root"], ["user", "grant-role", "root", "root"], ["user", "add", "alice", "--no-password"], ["user", "add", "bob:bobpw"], ["role", "add", "app"], ["role", "grant-permission", "app", "readwrite", "a/", "--prefix"], ["user", "grant-role", "alice", "app"], ["auth", "enable"]]) {
    const r = await ctl("root", ...args);
    expect([args.join(" "), r.code]).toEqual([args.join(" "), 0]);
  }
  expect((await ctl("alice", "put", "a/1", "v")).code).toBe(0);
  expect((await ctl("alice", "get", "a/1", "--print-value-only")).stdout).toBe("v\n");
  expect(errorLine(await ctl("alice", "put", "b/1", "v"))).toBe("Error: etcdserver: permission denied");
  expect((await ctl("root", "user", "list")).stdout).toBe("alice\nbob\nroot\n");
  // A certificate whose CN names no user: no permission.
  expect(errorLine(await ctl("bob", "get", "a/1"))).toBe("Error: etcdserver: permission denied");
  // A token wins over the certificate: root's certificate, bob's password.
  expect(errorLine(await ctl("root", "--user", "bob:bobpw", "get", "a/1"))).toBe("Error: etcdserver: permission denied");
});

test("a password-less user cannot log in with a password, only with its certificate", async () => {
  const r = await ctl("bob", "--user", "alice:x", "get", "a/1");
  expect(errorLine(r)).toBe("Error: rpc error: code = Unknown desc = auth: authentication failed, password was given for no password user");
});

test("the JSON gateway refuses a named client certificate rather than ignore its CN", async () => {
  const agent = new Agent({ ca: readFileSync(f("ca.pem")), cert: readFileSync(f("client-root.pem")), key: readFileSync(f("client-root-key.pem")) });
  const body = await new Promise<string>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: member.clientPort, path: "/v3/kv/range", method: "POST", agent }, (res) => {
      let s = "";
      res.on("data", (c) => (s += c));
      res.on("end", () => resolve(`${res.statusCode} ${s}`));
    });
    req.on("error", reject);
    req.end(JSON.stringify({ key: b64("a/1") }));
  });
  expect(body).toBe("400 CommonName of client sending a request against gateway will be ignored and not used as expected\n");
});
