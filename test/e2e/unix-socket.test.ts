// unix:// client and peer URLs, as etcd takes them: `unix://localhost:PORT` listens on a
// socket file named "localhost:PORT" in the working directory; etcdctl dials the same form.
// Holds for etcd 3.4.23 too (E2E_TARGET=etcd).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, lstatSync } from "node:fs";
import { join } from "node:path";
import { isEtcd, LineProcess, makeTempDir, memberBinary, pollUntil, removeDir, runEtcdctl } from "../helpers/index.ts";

const dir = makeTempDir("e2e-unix");
// Not ports anyone listens on: these only name the socket files.
const client = `unix://localhost:${30000 + (process.pid % 10000)}`;
const peer = `unix://localhost:${40000 + (process.pid % 10000)}`;
const clientFile = join(dir, client.slice("unix://".length));
const peerFile = join(dir, peer.slice("unix://".length));
let proc: LineProcess;

function start(data = "data", peerUrl = peer): LineProcess {
  return new LineProcess(memberBinary(), [
    "--name", "u1", "--data-dir", join(dir, data),
    "--listen-client-urls", client, "--advertise-client-urls", client,
    "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl, "--initial-cluster", `u1=${peerUrl}`,
  ], { cwd: dir, maxLines: 2000 });
}

async function healthy(p: LineProcess): Promise<void> {
  await pollUntil(async () => {
    if (p.hasExited) throw new Error(`member exited\n${p.describe()}`);
    try {
      const res = await fetch("http://localhost/health", { unix: clientFile, signal: AbortSignal.timeout(1000) } as RequestInit);
      return (await res.json()).health === "true" ? true : undefined;
    } catch {
      return undefined;
    }
  }, 20_000, `member on ${client} healthy`);
}

beforeAll(async () => {
  proc = start();
  await healthy(proc);
}, 30_000);

afterAll(async () => {
  await proc?.kill();
  removeDir(dir);
});

test("the member listens on socket files named by the URLs' host:port", () => {
  expect(lstatSync(clientFile).isSocket()).toBe(true);
  expect(lstatSync(peerFile).isSocket()).toBe(true);
});

test("etcdctl with a unix:// endpoint: put, get, member list", async () => {
  const ctl = (...args: string[]) => runEtcdctl(client, args, { cwd: dir });
  expect((await ctl("put", "ukey", "uval")).stdout.trim()).toBe("OK");
  expect((await ctl("get", "ukey")).stdout.trim().split("\n")).toEqual(["ukey", "uval"]);
  const list = (await ctl("member", "list")).stdout.trim();
  expect(list).toMatch(new RegExp(`, started, u1, ${peer}, ${client}, false$`));
});

test("the JSON gateway over the socket", async () => {
  const res = await fetch("http://localhost/v3/kv/range", { method: "POST", body: JSON.stringify({ key: btoa("ukey") }), unix: clientFile } as RequestInit);
  const body = await res.json();
  expect(atob(body.kvs[0].value)).toBe("uval");
});

test("another member on a socket in use refuses to start: bind: address already in use", async () => {
  const other = start("data2", `unix://localhost:${50000 + (process.pid % 10000)}`);
  const r = await other.exited;
  expect(r.code).toBe(1);
  expect(other.stderrLines.join("\n")).toContain(`listen unix localhost:${client.split(":")[2]}: bind: address already in use`);
  expect(proc.hasExited).toBe(false);
}, 30_000);

test("a graceful stop removes the socket files; the member starts again on them", async () => {
  proc.signal("SIGTERM");
  await proc.exited;
  expect(existsSync(clientFile)).toBe(false);
  expect(existsSync(peerFile)).toBe(false);
  proc = start();
  await healthy(proc);
  expect((await runEtcdctl(client, ["get", "ukey", "--print-value-only"], { cwd: dir })).stdout.trim()).toBe("uval");
}, 30_000);

test("after SIGKILL the files stay: etcd then cannot bind them; Conclave replaces the dead sockets", async () => {
  await proc.kill();
  expect(existsSync(clientFile)).toBe(true);
  proc = start();
  if (isEtcd()) {
    expect((await proc.exited).code).toBe(1);
    expect(proc.stderrLines.join("\n")).toContain("bind: address already in use");
    return;
  }
  await healthy(proc);
  expect((await runEtcdctl(client, ["get", "ukey", "--print-value-only"], { cwd: dir })).stdout.trim()).toBe("uval");
}, 30_000);
