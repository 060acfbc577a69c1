// `conclave discovery` over real HTTP: /new and its validation and rate limit, the v2
// protocol answers members rely on (status codes, v2 error bodies, X-Etcd-Index, long polls),
// bad input of every kind with the service still serving afterwards, expiry and collection,
// acknowledged registrations surviving SIGKILL, the HTML page, /metrics, flags.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { CONCLAVE_BIN, dataDirIn, DiscoveryService } from "../helpers/bootstrap.ts";
import { delay, makeTempDir, pollUntil, removeDir } from "../helpers/index.ts";

let root: string;
let svc: DiscoveryService;

beforeAll(async () => {
  root = makeTempDir("e2e-discsvc");
  // No rate limit here (the flood test has its own service); a short long poll for the timeout test.
  svc = await DiscoveryService.start(dataDirIn(root, "svc"), ["--new-rate", "0", "--long-poll-timeout", "300ms"]);
}, 30_000);

afterAll(async () => {
  await svc?.kill();
  removeDir(root);
});

async function req(path: string, init: RequestInit = {}): Promise<{ status: number; text: string; headers: Headers; json: () => any }> {
  const r = await fetch(path.startsWith("http") ? path : `${svc.url}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await r.text();
  return { status: r.status, text, headers: r.headers, json: () => JSON.parse(text) };
}

const form = (o: Record<string, string>) => ({
  method: "PUT",
  body: new URLSearchParams(o).toString(),
  headers: { "content-type": "application/x-www-form-urlencoded" },
});

test("/new answers <host>/<32 hex> as text for any method, size from query or form, default 3", async () => {
  const a = await req("/new");
  expect(a.status).toBe(200);
  expect(a.headers.get("content-type")).toStartWith("text/plain");
  expect(a.text).toMatch(new RegExp(`^${svc.url}/[a-f0-9]{32}$`));
  expect((await req(`${a.text}/_config/size`)).json().node.value).toBe("3");
  const b = await req("/new", { method: "POST", body: "size=5", headers: { "content-type": "application/x-www-form-urlencoded" } });
  expect((await req(`${b.text}/_config/size`)).json().node.value).toBe("5");
  const c = await req("/new?size=7", { method: "PUT" });
  expect((await req(`${c.text}/_config/size`)).json().node.value).toBe("7");
  expect(new Set([a.text, b.text, c.text]).size).toBe(3);
});

test("bad sizes are refused with a clear 400; the service keeps serving", async () => {
  for (const size of ["0", "-1", "abc", "10000", "1.5", "", "99999999999999999999999"]) {
    const r = await req(`/new?size=${encodeURIComponent(size)}`);
    expect(r.status).toBe(400);
    expect(r.text).toContain("size must be an integer from 1 to 100");
  }
  expect((await req("/health")).status).toBe(200);
});

test("the v2 protocol as etcd members speak it: listing, create 201, duplicate 105, unknown token 100", async () => {
  const token = (await req("/new?size=3")).text;
  const tok = new URL(token).pathname.slice(1);
  const listing = await req(`${token}?quorum=false&recursive=false&sorted=false`);
  expect(listing.status).toBe(200);
  expect(listing.headers.get("content-type")).toBe("application/json");
  const idx = Number(listing.headers.get("x-etcd-index"));
  expect(listing.json()).toEqual({ action: "get", node: { key: `/${tok}`, dir: true, modifiedIndex: idx, createdIndex: idx } });

  const created = await req(`${token}/8e9e05c52164694d?prevExist=false`, form({ value: "m1=http://10.0.0.1:2380" }));
  expect(created.status).toBe(201);
  const node = created.json().node;
  expect(created.json()).toEqual({ action: "create", node: { key: `/${tok}/8e9e05c52164694d`, value: "m1=http://10.0.0.1:2380", modifiedIndex: node.createdIndex, createdIndex: node.createdIndex } });
  expect(Number(created.headers.get("x-etcd-index"))).toBe(node.createdIndex);

  const dup = await req(`${token}/8e9e05c52164694d?prevExist=false`, form({ value: "m1=http://10.0.0.1:2380" }));
  expect(dup.status).toBe(412);
  expect(dup.json()).toEqual({ errorCode: 105, message: "Key already exists", cause: `/${tok}/8e9e05c52164694d`, index: node.createdIndex });

  // The confirmation long poll (waitIndex = createdIndex) returns the create at once.
  const confirm = await req(`${token}/8e9e05c52164694d?recursive=false&wait=true&waitIndex=${node.createdIndex}`);
  expect(confirm.json().action).toBe("create");

  const unknown = await req(`/${"0".repeat(32)}/_config/size?quorum=false&recursive=false&sorted=false`);
  expect(unknown.status).toBe(404);
  expect(unknown.json()).toMatchObject({ errorCode: 100, message: "Key not found", cause: `/${"0".repeat(32)}` });
});

test("a recursive long poll returns the next registration, or an empty 200 when none comes in time", async () => {
  const token = (await req("/new?size=2")).text;
  const idx = Number((await req(token)).headers.get("x-etcd-index"));
  const empty = await req(`${token}?recursive=true&wait=true&waitIndex=${idx + 1}`);
  expect(empty.status).toBe(200);
  expect(empty.text).toBe("");
  const poll = req(`${token}?recursive=true&wait=true&waitIndex=${idx + 1}`);
  await delay(50);
  const put = await req(`${token}/abc?prevExist=false`, form({ value: "n=http://10.0.0.2:2380" }));
  expect(put.status).toBe(201);
  const got = await poll;
  expect(got.json().node.value).toBe("n=http://10.0.0.2:2380");
  expect(got.json().node.modifiedIndex).toBe(put.json().node.modifiedIndex);
});

test("malformed tokens, paths, values, parameters and methods: 404 / 405 / v2 errors, nothing written", async () => {
  const token = (await req("/new?size=3")).text;
  const before = (await req(token)).json();
  expect((await req("/zzzz")).status).toBe(404);
  expect((await req(`/${"A".repeat(32)}`)).status).toBe(404);
  expect((await req(`/${"a".repeat(31)}`)).status).toBe(404);
  expect((await req(`${token}/a/b/c`)).status).toBe(404);
  expect((await req(`${token}/_hidden`, form({ value: "x=http://1.2.3.4:1" }))).status).toBe(404);
  expect((await req(`${token}/_config/size`, form({ value: "9" }))).status).toBe(405);
  expect((await req(`${token}/abc`, { method: "POST", body: "value=x" })).status).toBe(405);
  for (const value of ["", "garbage", "m1=ftp://x:1", "m1=http://nohost", "=http://1.2.3.4:1,x"]) {
    const r = await req(`${token}/abc?prevExist=false`, form({ value }));
    expect(r.status).toBe(400);
    expect(r.json().errorCode).toBe(209);
  }
  const big = await req(`${token}/abc?prevExist=false`, form({ value: `m1=http://1.2.3.4:1,${"x=http://1.2.3.4:1,".repeat(400)}` }));
  expect(big.status).toBe(400);
  expect(big.json().errorCode).toBe(209);
  const ttl = await req(`${token}/abc?ttl=5`, form({ value: "m1=http://1.2.3.4:1" }));
  expect(ttl.json()).toMatchObject({ errorCode: 209, cause: "ttl is not supported by the discovery service" });
  const idx = await req(`${token}?wait=true&waitIndex=abc`);
  expect(idx.json()).toMatchObject({ errorCode: 203, message: "The given index in POST form is not a number", cause: `invalid value for "waitIndex"` });
  const flag = await req(`${token}?recursive=maybe`);
  expect(flag.json().errorCode).toBe(209);
  // A body over the bound is refused before it is read: 413.
  const huge = await req(`${token}/abc?prevExist=false`, { method: "PUT", body: "value=" + "a".repeat(200_000) });
  expect(huge.status).toBe(413);
  expect(huge.text).toContain("request body larger than");
  const hugeNew = await req("/new", { method: "POST", body: "size=3&" + "b".repeat(1_000_000) });
  expect(hugeNew.status).toBe(413);
  // Nothing of the above was written.
  expect((await req(token)).json()).toEqual(before);
  // Deleting the directory needs recursive=true (v2's 102 "Not a file" otherwise).
  const d = await req(token, { method: "DELETE" });
  expect(d.json()).toMatchObject({ errorCode: 102, message: "Not a file" });
  expect((await req(`${token}?recursive=true`, { method: "DELETE" })).json().action).toBe("delete");
  expect((await req(token)).status).toBe(404);
});

test("10k /new calls from one address: the first burst succeeds, the rest get 429 with Retry-After; others still served", async () => {
  const limitedSvc = await DiscoveryService.start(dataDirIn(root, "flood"), ["--new-burst", "30", "--new-rate", "5"]);
  try {
    let ok = 0;
    let limited = 0;
    let retryAfter = "";
    const N = 10_000;
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < N) {
          next++;
          const r = await fetch(`${limitedSvc.url}/new?size=3`);
          await r.arrayBuffer();
          if (r.status === 200) ok++;
          else if (r.status === 429) {
            limited++;
            retryAfter = r.headers.get("retry-after") ?? "";
          } else throw new Error(`unexpected ${r.status}`);
        }
      }),
    );
    expect(ok + limited).toBe(N);
    // 30 at once, then 5 per second for however long the flood took.
    const seconds = (performance.now() - started) / 1000;
    expect(ok).toBeGreaterThanOrEqual(30);
    expect(ok).toBeLessThanOrEqual(30 + Math.ceil(5 * seconds) + 1);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // The service still answers everything else; the limit is per address ([::1] is another client).
    expect(await (await fetch(`${limitedSvc.url}/health`)).text()).toBe("OK");
    const v6 = await fetch(`http://[::1]:${limitedSvc.port}/new`).catch(() => undefined);
    if (v6 !== undefined) expect(v6.status).toBe(200);
    const metrics = await (await fetch(`${limitedSvc.url}/metrics`)).text();
    expect(Number(/discovery_new_rate_limited_total (\d+)/.exec(metrics)![1])).toBe(limited);
    // After the bucket refills, this address gets tokens again.
    await pollUntil(async () => ((await fetch(`${limitedSvc.url}/new`)).status === 200 ? true : undefined), 5000, "a token after the refill", 250);
  } finally {
    await limitedSvc.kill();
  }
}, 60_000);

test("the token page for browsers shows size, registrants (escaped) and how many are missing", async () => {
  const token = (await req("/new?size=3")).text;
  await req(`${token}/aaa?prevExist=false`, form({ value: "<script>alert(1)</script>=http://10.0.0.9:2380" }));
  const page = await req(token, { headers: { accept: "text/html,application/xhtml+xml" } });
  expect(page.status).toBe(200);
  expect(page.headers.get("content-type")).toStartWith("text/html");
  expect(page.text).toContain("Expected cluster size: <strong>3</strong>");
  expect(page.text).toContain("1 of 3 members registered; waiting for 2 more.");
  expect(page.text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;=http://10.0.0.9:2380");
  expect(page.text).not.toContain("<script>alert");
  expect((await req("/robots.txt")).text).toBe("User-agent: *\nDisallow: /");
});

test("/metrics counts requests by code and method (etcd's discoveryserver names)", async () => {
  const text = (await req("/metrics")).text;
  expect(text).toContain("# TYPE endpoint_new_requests_total counter");
  expect(text).toMatch(/endpoint_new_requests_total\{code="200",method="GET"\} \d+/);
  expect(text).toMatch(/endpoint_new_requests_total\{code="400",method="GET"\} \d+/);
  expect(text).toMatch(/endpoint_token_requests_total\{code="201",method="PUT"\} \d+/);
  expect(text).toMatch(/endpoint_token_requests_total\{code="412",method="PUT"\} \d+/);
  expect(text).toMatch(/endpoint_health_requests_total\{code="200",method="GET"\} \d+/);
});

test("acknowledged tokens and registrations survive SIGKILL; expired tokens read as unknown and are collected", async () => {
  const dir = dataDirIn(root, "crash");
  const s = await DiscoveryService.start(dir, ["--minage", "3s", "--gcfreq", "200ms"]);
  try {
    const tokens: string[] = [];
    for (let i = 0; i < 5; i++) {
      const t = await s.newToken(3);
      const put = await fetch(`${t}/m${i}?prevExist=false`, form({ value: `m${i}=http://10.0.1.${i}:2380` }));
      expect(put.status).toBe(201);
      tokens.push(t);
    }
    await s.kill();
    await s.launch();
    for (let i = 0; i < 5; i++) {
      const r = await fetch(tokens[i]!);
      expect(r.status).toBe(200);
      expect(((await r.json()) as any).node.nodes.map((n: { value: string }) => n.value)).toEqual([`m${i}=http://10.0.1.${i}:2380`]);
    }
    // After --minage: unknown (404 errorCode 100), then collected.
    await pollUntil(async () => ((await fetch(tokens[0]!)).status === 404 ? true : undefined), 10_000, "token expired", 200);
    const r = await fetch(`${tokens[0]}/_config/size`);
    expect(((await r.json()) as any).errorCode).toBe(100);
    await pollUntil(
      async () => {
        const m = /discovery_tokens_collected_total (\d+)/.exec(await (await fetch(`${s.url}/metrics`)).text());
        return m && Number(m[1]) >= 5 ? true : undefined;
      },
      10_000,
      "5 tokens collected",
      200,
    );
  } finally {
    await s.kill();
  }
}, 60_000);

test("bad flags and unusable data dirs exit with one clear line", () => {
  const run = (...args: string[]) => spawnSync(CONCLAVE_BIN, ["discovery", ...args], { encoding: "utf8", timeout: 20_000, env: { ...process.env, DISC_ADDR: "" } });
  const bad = run("--bogus");
  expect(bad.status).toBe(2);
  expect(bad.stderr).toStartWith("Error: unknown flag: --bogus\n");
  expect(run("--minage", "soon").stderr).toStartWith('Error: invalid argument "soon" for "--minage" flag: time: invalid duration "soon"');
  expect(run("--host", "http://x.example/path").stderr).toContain('invalid argument "http://x.example/path" for "--host" flag');
  expect(run("--etcd", "127.0.0.1:2379").stderr).toContain('invalid argument "127.0.0.1:2379" for "--etcd" flag');
  expect(run("--addr", "nowhere").stderr).toContain('invalid argument "nowhere" for "--addr" flag');
  const help = run("--help");
  expect(help.status).toBe(0);
  expect(help.stdout).toContain("-a, --addr (DISC_ADDR, default \":8087\")");
  const file = `${root}/a-file`;
  require("node:fs").writeFileSync(file, "x");
  const dd = run("--addr", "127.0.0.1:0", "--data-dir", `${file}/sub`);
  expect(dd.status).toBe(1);
  expect(dd.stderr).toStartWith("conclave discovery: cannot access data directory:");
  const env = spawnSync(CONCLAVE_BIN, ["discovery"], { encoding: "utf8", timeout: 20_000, env: { ...process.env, DISC_GCFREQ: "never" } });
  expect(env.status).toBe(2);
  expect(env.stderr).toContain('for "--gcfreq" flag');
});

test("the executable alone in an empty directory serves tokens from its default data dir there", async () => {
  const { copyFileSync, chmodSync, existsSync, readdirSync } = await import("node:fs");
  const { freePort, LineProcess } = await import("../helpers/index.ts");
  const dir = makeTempDir("e2e-discbin");
  const bin = `${dir}/conclave`;
  copyFileSync(CONCLAVE_BIN, bin);
  chmodSync(bin, 0o755);
  const port = await freePort();
  const p = new LineProcess(bin, ["discovery", "--addr", `127.0.0.1:${port}`], { cwd: dir });
  try {
    const token = await pollUntil(
      async () => {
        if (p.hasExited) throw new Error(p.describe());
        try {
          const r = await fetch(`http://127.0.0.1:${port}/new?size=1`);
          return r.status === 200 ? await r.text() : undefined;
        } catch {
          return undefined;
        }
      },
      15_000,
      "the copied executable serving /new",
    );
    expect((await (await fetch(`${token}/_config/size`)).json()).node.value).toBe("1");
    expect(existsSync(`${dir}/discovery.conclave/tokens.db`)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(["conclave", "discovery.conclave"]);
  } finally {
    await p.kill();
    removeDir(dir);
  }
}, 30_000);

test("SIGKILL during a stream of concurrent registrations: every acknowledged one is there after restart", async () => {
  const s = await DiscoveryService.start(dataDirIn(root, "crash-load"), ["--new-rate", "0"]);
  try {
    const tokens = await Promise.all(Array.from({ length: 20 }, () => s.newToken(50)));
    const acked = new Map<string, string[]>();
    let stop = false;
    let n = 0;
    const writers = Array.from({ length: 16 }, async (_, w) => {
      while (!stop) {
        const i = n++;
        const token = tokens[i % tokens.length]!;
        const name = `w${w}x${i}`;
        try {
          const r = await fetch(`${token}/${name}?prevExist=false`, form({ value: `${name}=http://10.1.${w}.${i % 250}:2380` }));
          if (r.status === 201) acked.set(token, [...(acked.get(token) ?? []), name]);
        } catch {
          return; // the service is gone
        }
      }
    });
    await pollUntil(() => (n > 300 ? true : undefined), 20_000, "300 registrations sent", 5);
    await s.kill();
    stop = true;
    await Promise.all(writers);
    expect([...acked.values()].flat().length).toBeGreaterThan(50);
    await s.launch();
    for (const [token, names] of acked) {
      const listing = (await (await fetch(token)).json()) as { node: { nodes?: { key: string }[] } };
      const present = new Set((listing.node.nodes ?? []).map((x) => x.key.split("/").pop()));
      for (const name of names) expect(present.has(name)).toBe(true);
    }
  } finally {
    await s.kill();
  }
}, 60_000);

test("--host sets the base of the token URLs (DISC_HOST alike); the home page explains /new", async () => {
  const s = await DiscoveryService.start(dataDirIn(root, "hosted"), ["--host", "https://discovery.example.com:8443"]);
  try {
    const t = await (await fetch(`${s.url}/new?size=2`)).text();
    expect(t).toMatch(/^https:\/\/discovery\.example\.com:8443\/[a-f0-9]{32}$/);
    // The token itself is served here whatever base it was handed out with.
    const size = await fetch(`${s.url}${new URL(t).pathname}/_config/size`);
    expect(((await size.json()) as any).node.value).toBe("2");
    const home = await fetch(`${s.url}/`);
    expect(home.headers.get("content-type")).toStartWith("text/html");
    expect(await home.text()).toContain("curl 'https://discovery.example.com:8443/new?size=3'");
  } finally {
    await s.kill();
  }
});

test("--cert-file/--key-file serve https; etcd members bootstrap through it with the CA trusted", async () => {
  const { makeCertificates } = await import("../helpers/srv-lab.ts");
  const { freePort, LineProcess } = await import("../helpers/index.ts");
  const { BootMember, ETCD_BIN } = await import("../helpers/bootstrap.ts");
  const certs = makeCertificates(`${root}/disc-certs`, "localhost", [{ name: "localhost", ip: "127.0.0.1" }]);
  const port = await freePort();
  const p = new LineProcess(CONCLAVE_BIN, [
    "discovery", "--addr", `127.0.0.1:${port}`, "--data-dir", dataDirIn(root, "tls"),
    "--cert-file", certs.cert("localhost"), "--key-file", certs.key("localhost"),
  ]);
  const url = `https://127.0.0.1:${port}`;
  const ca = require("node:fs").readFileSync(certs.ca, "utf8");
  try {
    const token = await pollUntil(
      async () => {
        if (p.hasExited) throw new Error(p.describe());
        try {
          const r = await fetch(`${url}/new?size=1`, { tls: { ca } } as RequestInit);
          return r.status === 200 ? await r.text() : undefined;
        } catch {
          return undefined;
        }
      },
      15_000,
      "https /new",
    );
    expect(token).toMatch(new RegExp(`^${url}/[a-f0-9]{32}$`));
    // Plain http on the https port gets nothing useful.
    const plain = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status, () => "refused");
    expect(plain).not.toBe(200);
    // Debian's etcd trusts the CA through SSL_CERT_FILE and joins over https.
    const m = await BootMember.create({ name: "tls1", bootstrap: ["--discovery", token], dataDir: dataDirIn(root, "tls1"), bin: ETCD_BIN, wrap: ["env", `SSL_CERT_FILE=${certs.ca}`] });
    m.spawn();
    try {
      await m.waitHealthy(20_000);
    } finally {
      await m.kill();
    }
  } finally {
    await p.kill();
  }
}, 60_000);
