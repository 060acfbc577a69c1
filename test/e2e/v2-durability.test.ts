// The v2 store's life on one member (runs against either target): off unless --enable-v2; apart
// from the v3 keyspace; kept across a restart (tree, TTL deadlines, event window, index); and no
// acknowledged v2 write lost when the member is SIGKILLed under load.
//
// Replay a crash failure with E2E_SEED=<printed seed>; E2E_V2_CRASH_KILLS sets the kill count.
import { afterAll, expect, test } from "bun:test";
import { delay, Gate, Gateway, Member, mulberry32, seedFromEnv, useMember, V2_FLAGS, v2Http, waitV2Ready } from "../helpers/index.ts";

const KILLS = Number(process.env.E2E_V2_CRASH_KILLS ?? 8);

const env = useMember({ extraArgs: [...V2_FLAGS, "--heartbeat-interval", "10", "--election-timeout", "100"] });

test("without --enable-v2 every /v2/ path answers 404 page not found", async () => {
  const m = await Member.start({});
  try {
    for (const path of ["/v2/keys/foo", "/v2/members", "/v2/machines", "/v2/stats/self", "/v2/auth/enable"]) {
      const r = await v2Http(m.clientURL, "GET", path);
      expect([path, r.status, r.body]).toEqual([path, 404, "404 page not found\n"]);
    }
    expect((await v2Http(m.clientURL, "PUT", "/v2/keys/foo", { form: "value=x" })).status).toBe(404);
  } finally {
    await m.cleanup();
  }
}, 30_000);

test("the v2 store and the v3 keyspace never see each other", async () => {
  const { member, ctl } = env();
  await waitV2Ready(member);
  expect((await v2Http(member.clientURL, "PUT", "/v2/keys/sep/a", { form: "value=v2" })).status).toBe(201);
  expect(await ctl.ok("get", "", "--prefix", "--keys-only")).toBe("");
  await ctl.ok("put", "sep/b", "v3");
  await ctl.ok("put", "/sep/b", "v3");
  expect((await v2Http(member.clientURL, "GET", "/v2/keys/sep/b")).status).toBe(404);
  expect(await ctl.ok("get", "", "--prefix", "--keys-only")).toBe("/sep/b\n\nsep/b\n\n");
  const v3 = await new Gateway(member.clientURL).range("sep/a");
  expect(v3.kvs).toBeUndefined();
});

test("a restart keeps the tree, the remaining TTLs, the event window and the index", async () => {
  const { member } = env();
  const u = member.clientURL;
  await v2Http(u, "PUT", "/v2/keys/keep/dir/f", { form: "value=file" });
  await v2Http(u, "PUT", "/v2/keys/keep/_hidden", { form: "value=h" });
  await v2Http(u, "POST", "/v2/keys/keep/q", { form: "value=job" });
  const ttl = await v2Http(u, "PUT", "/v2/keys/keep/ttl?ttl=300", { form: "value=t" });
  const ttlNode = JSON.parse(ttl.body).node as { expiration: string };
  const del = await v2Http(u, "DELETE", "/v2/keys/keep/dir/f");
  const delIndex = Number(del.headers.get("x-etcd-index"));
  const before = (await v2Http(u, "GET", "/v2/keys/keep?recursive=true&sorted=true")).body;
  for (const stop of ["SIGTERM", "SIGKILL"] as const) {
    if (stop === "SIGTERM") await member.stop();
    else await member.kill();
    await member.launch();
    await waitV2Ready(member, delIndex);
    const after = await v2Http(u, "GET", "/v2/keys/keep?recursive=true&sorted=true");
    // Same nodes and indexes; the TTL keeps its deadline (the remaining seconds go down).
    const strip = (s: string) => s.replace(/"ttl":\d+,/g, "");
    expect(strip(after.body)).toBe(strip(before));
    // etcd republishes the member's attributes at every start (one more index); Conclave only
    // when they changed.
    expect(Number(after.headers.get("x-etcd-index"))).toBeGreaterThanOrEqual(delIndex);
    const t = JSON.parse((await v2Http(u, "GET", "/v2/keys/keep/ttl")).body).node as { expiration: string; ttl: number };
    expect(t.expiration).toBe(ttlNode.expiration);
    expect(t.ttl).toBeLessThanOrEqual(300);
    expect(t.ttl).toBeGreaterThan(200);
    const h = await v2Http(u, "GET", `/v2/keys/keep/dir/f?wait=true&waitIndex=${delIndex}`);
    expect(JSON.parse(h.body)).toMatchObject({ action: "delete", node: { key: "/keep/dir/f", modifiedIndex: delIndex } });
  }
  const last = Number((await v2Http(u, "GET", "/v2/keys/")).headers.get("x-etcd-index"));
  const next = await v2Http(u, "PUT", "/v2/keys/keep/next", { form: "value=n" });
  expect(Number(next.headers.get("x-etcd-index"))).toBe(last + 1);
}, 60_000);

interface Ack {
  key: string;
  value: string;
  index: number;
}

let crashMember: Member | undefined;
afterAll(async () => {
  await crashMember?.cleanup();
});

test("every acknowledged v2 write survives repeated SIGKILL with its index", async () => {
  const seed = seedFromEnv();
  console.log(`v2 crash test seed=${seed} kills=${KILLS} (replay with E2E_SEED=${seed})`);
  const rand = mulberry32(seed);
  crashMember = await Member.start({ extraArgs: [...V2_FLAGS, "--heartbeat-interval", "10", "--election-timeout", "100"] });
  const m = crashMember;
  await waitV2Ready(m);
  const acks: Ack[][] = [[], [], [], []];
  const gate = new Gate();
  let stopping = false;
  const write = async (method: string, path: string, value: string): Promise<{ key: string; index: number } | undefined> => {
    try {
      const r = await v2Http(m.clientURL, method, path, { form: `value=${value}`, timeoutMs: 5000 });
      if (r.status !== 201) return undefined;
      const node = JSON.parse(r.body).node as { key: string; modifiedIndex: number };
      return { key: node.key, index: node.modifiedIndex };
    } catch {
      return undefined; // refused or reset: not acknowledged
    }
  };
  // Three writers of fresh keys, one of in-order keys (POST): presence is unambiguous.
  const writer = async (w: number): Promise<void> => {
    for (let seq = 0; !stopping; seq++) {
      const value = `${w}:${seq}`;
      const r = w < 3 ? await write("PUT", `/v2/keys/crash/w${w}/${String(seq).padStart(6, "0")}`, value) : await write("POST", "/v2/keys/crash/queue", value);
      if (r) acks[w]!.push({ key: r.key, value, index: r.index });
      else await gate.wait();
    }
  };
  const writers = [0, 1, 2, 3].map(writer);
  const maxAcked = () => Math.max(0, ...acks.map((a) => a.at(-1)?.index ?? 0));
  for (let k = 0; k < KILLS; k++) {
    await delay(80 + Math.floor(rand() * 400));
    gate.close();
    await m.kill();
    const acked = maxAcked();
    await m.launch();
    await waitV2Ready(m, acked);
    gate.release();
  }
  stopping = true;
  gate.release();
  await Promise.all(writers);
  const total = acks.reduce((n, a) => n + a.length, 0);
  console.log(`v2 crash test: ${total} acknowledged writes`);
  expect(total).toBeGreaterThan(KILLS * 2);

  const all = JSON.parse((await v2Http(m.clientURL, "GET", "/v2/keys/crash?recursive=true")).body).node as Node;
  const byKey = new Map<string, Node>();
  const walk = (n: Node) => {
    if (n.value !== undefined) byKey.set(n.key, n);
    for (const c of n.nodes ?? []) walk(c);
  };
  walk(all);
  for (const list of acks) {
    for (const a of list) {
      const n = byKey.get(a.key);
      if (n === undefined) throw new Error(`acknowledged v2 write ${a.key}@${a.index} is missing (seed ${seed})`);
      expect([n.value, n.modifiedIndex, n.createdIndex]).toEqual([a.value, a.index, a.index]);
    }
    for (let i = 1; i < list.length; i++) expect(list[i]!.index).toBeGreaterThan(list[i - 1]!.index);
  }
  // In-order keys are named by their index; no two writes share an index.
  for (const a of acks[3]!) expect(a.key).toBe(`/crash/queue/${String(a.index).padStart(20, "0")}`);
  const indexes = [...byKey.values()].map((n) => n.modifiedIndex);
  expect(new Set(indexes).size).toBe(indexes.length);
}, 120_000);

interface Node {
  key: string;
  value?: string;
  nodes?: Node[];
  modifiedIndex: number;
  createdIndex: number;
}

