// The dashboard's member calls over TLS: on a 3-member cluster with client and peer TLS and
// --client-cert-auth from `conclave pki cluster`, one member answers the Status of another
// (reached at its https client URL with this member's peer certificate). Conclave only. (With
// --client-cert-auth and auth on, etcd's gateway refuses every request that carries a named
// client certificate, so a browser cannot log in there: see docs/design-notes.md.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { isEtcd, makeTempDir, removeDir } from "../helpers/index.ts";
import { type ClientCreds, pkiOk, printedMemberFlags, TlsCluster, tlsCtl } from "../helpers/tls.ts";

const NAMES = ["d1", "d2", "d3"];
let dir: string;
let cluster: TlsCluster;
let root: ClientCreds;

function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const q = request(
      url,
      { method: "POST", ca: readFileSync(root.cacert!), cert: readFileSync(root.cert!), key: readFileSync(root.key!), headers, agent: false },
      (r) => {
        let b = "";
        r.setEncoding("utf8");
        r.on("data", (d: string) => (b += d));
        r.on("end", () => res({ status: r.statusCode ?? 0, body: b }));
      },
    );
    q.on("error", rej);
    q.end(body);
  });
}

async function memberIds(): Promise<Map<string, string>> {
  const out = await tlsCtl(cluster.endpoints(), root, ["member", "list"]);
  return new Map(out.stdout.trim().split("\n").map((l) => [l.split(", ")[2]!, l.split(", ")[0]!]));
}

describe.skipIf(isEtcd())("dashboard over TLS", () => {
  beforeAll(async () => {
    dir = makeTempDir("e2e-dash-tls");
    const printed = pkiOk(["cluster", "--dir", join(dir, "pki"), ...NAMES.flatMap((n) => ["--member", `${n}=127.0.0.1,localhost`]), "--client", "root"]);
    const pk = join(dir, "pki");
    root = { cacert: join(pk, "ca.pem"), cert: join(pk, "client-root.pem"), key: join(pk, "client-root-key.pem") };
    cluster = await TlsCluster.start(NAMES.map((name) => ({ name, flags: printedMemberFlags(printed, name) })));
    await cluster.waitHealthy(NAMES, root);
  }, 60_000);
  afterAll(async () => {
    await cluster?.cleanup();
    if (dir !== undefined) removeDir(dir);
  });

  test("one member reports another's status over https", async () => {
    const ids = await memberIds();
    const d1 = cluster.member("d1").endpoint;
    for (const name of ["d2", "d3"]) {
      const r = await post(`${d1}/ui/api/members/${ids.get(name)}/status`, "{}");
      expect(r.status).toBe(200);
      expect(BigInt(JSON.parse(r.body).header.member_id).toString(16)).toBe(ids.get(name)!);
    }
    // The browser's same-origin rule holds over https too.
    const cross = await post(`${d1}/ui/api/members/${ids.get("d2")}/status`, "{}", { origin: "https://evil.example" });
    expect(cross.status).toBe(403);
  });
});
