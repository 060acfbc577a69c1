// Running under systemd and stopping: Type=notify readiness (READY=1 only once the member
// serves; STOPPING=1 when it stops) and a leader's SIGTERM handing leadership over before it
// goes, as etcd does. Holds for etcd 3.4.23 too, except STOPPING=1 (etcd 3.4 does not send it).
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  Cluster, ELECTION_TIMEOUT_MS, FAST_RAFT_FLAGS, freePorts, Gateway, isEtcd, LineProcess, makeTempDir, memberBinary,
  pollUntil, removeDir, withTimeout,
} from "../helpers/index.ts";

const dir = makeTempDir("e2e-ops");
afterAll(() => removeDir(dir));

/** A systemd-like notification socket: a unix datagram socket whose messages are read by python3. */
async function notifySocket(name: string): Promise<{ path: string; lines: () => string[]; close: () => Promise<void> }> {
  const path = join(dir, `${name}.sock`);
  const py = new LineProcess("python3", ["-u", "-c", [
    "import socket, sys",
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
    `s.bind(${JSON.stringify(path)})`,
    "print('LISTENING', flush=True)",
    "while True: print(s.recv(4096).decode(), flush=True)",
  ].join("\n")]);
  await py.lineMatching(/^LISTENING$/, 5000, "stdout");
  return { path, lines: () => py.stdoutLines.filter((l) => l !== "LISTENING"), close: () => py.kill() };
}

describe("systemd Type=notify", () => {
  test("READY=1 only once the member serves (a member alone in a two-member cluster waits for its peer); then STOPPING=1", async () => {
    const [c1, p1, c2, p2] = await freePorts(4);
    const cluster = `n1=http://127.0.0.1:${p1},n2=http://127.0.0.1:${p2}`;
    const member = (name: string, client: number, peer: number, env?: Record<string, string>) =>
      new LineProcess(memberBinary(), [
        "--name", name, "--data-dir", join(dir, name),
        "--listen-client-urls", `http://127.0.0.1:${client}`, "--advertise-client-urls", `http://127.0.0.1:${client}`,
        "--listen-peer-urls", `http://127.0.0.1:${peer}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${peer}`,
        "--initial-cluster", cluster, "--initial-cluster-token", `ops-${process.pid}`, ...FAST_RAFT_FLAGS,
      ], { env: { ...(process.env as Record<string, string>), ...env }, maxLines: 2000 });
    const sock = await notifySocket("n1");
    const n1 = member("n1", c1!, p1!, { NOTIFY_SOCKET: sock.path });
    let n2: LineProcess | undefined;
    try {
      // Without its peer n1 has no quorum: it does not serve, so it must not say it is ready.
      await new Promise((r) => setTimeout(r, 3000));
      expect(n1.hasExited).toBe(false);
      expect(sock.lines()).toEqual([]);
      n2 = member("n2", c2!, p2!);
      await pollUntil(() => (sock.lines().length > 0 ? true : undefined), 20_000, "READY=1");
      expect(sock.lines()).toEqual(["READY=1"]);
      // Ready means serving: a write through n1 goes through at once.
      const put = await new Gateway(`http://127.0.0.1:${c1}`).post("/v3/kv/put", { key: "cmVhZHk=", value: "eQ==" }, 5000);
      expect(put.status).toBe(200);
      n1.signal("SIGTERM");
      await withTimeout(n1.exited, 15_000, "n1 stops");
      // etcd 3.4 says nothing when it stops; Conclave sends STOPPING=1.
      expect(sock.lines()).toEqual(isEtcd() ? ["READY=1"] : ["READY=1", "STOPPING=1"]);
    } finally {
      await n1.kill();
      await n2?.kill();
      await sock.close();
    }
  }, 60_000);
});

describe("SIGTERM to the leader", () => {
  test("leadership is handed to a follower before the leader stops: a new leader within the election timeout", async () => {
    const c = await Cluster.start({ size: 3 });
    try {
      const leader = await c.waitLeader();
      const term = (await leader.status()).raftTerm;
      const followers = c.members.filter((m) => m !== leader);
      const t0 = performance.now();
      leader.process.signal("SIGTERM");
      // The followers agree on a new leader from among themselves, without waiting out an
      // election timeout (500 ms here, randomized up to twice that).
      const next = await c.waitLeader(followers, 10_000);
      const took = performance.now() - t0;
      await withTimeout(leader.process.exited, 15_000, "old leader exits");
      expect(followers).toContain(next);
      expect((await next.status()).raftTerm).toBe(term + 1);
      expect(took).toBeLessThan(ELECTION_TIMEOUT_MS);
      const log = leader.process.stderrLines.join("\n");
      expect(log).toMatch(isEtcd() ? /finished leadership transfer from/ : /leadership transfer finished/);
      // A follower stopping has nothing to hand over.
      const follower = followers.find((m) => m !== next)!;
      follower.process.signal("SIGTERM");
      await withTimeout(follower.process.exited, 15_000, "follower exits");
      expect(follower.process.stderrLines.join("\n")).toContain("skipped leadership transfer for stopping non-leader member");
    } finally {
      await c.cleanup();
    }
  }, 60_000);
});
