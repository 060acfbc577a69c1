// Transports on loopback port 0 with a recording handler, and small event waiters so tests wait
// on what happened rather than on time.
import { afterEach } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPeerTransport, type PeerHandler, type PeerMember, type PeerTransport, type PeerTransportLimits } from "../../src/transport/index.ts";
import { msg, MessageType, type Message } from "../../src/raft/message.ts";
import { silentLogger } from "../../src/server/logger.ts";
import { createTls, type Tls } from "../../src/tls/index.ts";

export interface Recorder {
  received: Message[];
  /** One per delivered POST /raft batch. */
  receiveCalls: number;
  snapshots: { m: Message; path: string }[];
  unreachable: bigint[];
  snapshotStatus: { id: bigint; ok: boolean }[];
  removedCalls: number;
  logs: { level: string; m: string; f?: Record<string, unknown> }[];
  removedIds: Set<bigint>;
}

export interface Node {
  readonly id: bigint;
  readonly t: PeerTransport;
  readonly url: string;
  readonly rec: Recorder;
  readonly tmpDir: string;
  /** Resolves once `cond()` holds; re-checked after every recorded event. */
  until(cond: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface NodeOptions {
  id: bigint;
  clusterId?: bigint;
  handler?: Partial<PeerHandler>;
  limits?: Partial<PeerTransportLimits>;
  listen?: string;
  tls?: Pick<Tls, "server" | "dial">;
  /** false: a member without message streams (POST /raft only, upgrades answered 404). */
  streams?: boolean;
  collectGarbage?: () => void;
}

export async function startNode(o: NodeOptions): Promise<Node> {
  const tmpDir = await mkdtemp(join(tmpdir(), "conclave-transport-"));
  const rec: Recorder = {
    received: [], receiveCalls: 0, snapshots: [], unreachable: [], snapshotStatus: [], removedCalls: 0, logs: [], removedIds: new Set(),
  };
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  const handler: PeerHandler = {
    receive: (msgs) => {
      rec.received.push(...msgs);
      rec.receiveCalls++;
      notify();
    },
    receiveSnapshot: async (m, path) => {
      rec.snapshots.push({ m, path });
      notify();
    },
    isRemoved: (id) => rec.removedIds.has(id),
    // Tests exchange messages without adding every sender as a peer; pass isMember: undefined
    // to get the transport's own check (its peer table).
    isMember: () => true,
    members: (): PeerMember[] => [],
    raftStatus: () => ({ term: 0, commit: 0, applied: 0, leader: 0n }),
    leaseRenew: async () => 0,
    leaseRemaining: async () => -1,
    promoteMember: async () => [],
    ...o.handler,
  };
  const log = (level: string) => (m: string, f?: Record<string, unknown>) => {
    rec.logs.push({ level, m, ...(f ? { f } : {}) });
    notify();
  };
  const t = await createPeerTransport({
    clusterId: () => o.clusterId ?? 0xc1n,
    memberId: o.id,
    listenUrls: [new URL(o.listen ?? "http://127.0.0.1:0")],
    handler,
    onUnreachable: (id) => {
      rec.unreachable.push(id);
      notify();
    },
    onSnapshotStatus: (id, ok) => {
      rec.snapshotStatus.push({ id, ok });
      notify();
    },
    onRemoved: () => {
      rec.removedCalls++;
      notify();
    },
    logger: { info: log("info"), warn: log("warn"), error: log("error") },
    tmpDir,
    ...(o.limits ? { limits: o.limits } : {}),
    ...(o.tls ? { tls: o.tls } : {}),
    ...(o.streams === false ? { streams: false } : {}),
    ...(o.collectGarbage ? { collectGarbage: o.collectGarbage } : {}),
  });
  const until = (cond: () => boolean, what: string, timeoutMs = 10_000) =>
    new Promise<void>((resolve, reject) => {
      if (cond()) return resolve();
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const check = () => {
        if (!cond()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
    });
  return {
    id: o.id, t, rec, tmpDir, until,
    url: t.urls[0]!.href.replace(/\/$/, ""),
    close: async () => {
      await t.close();
      await rm(tmpDir, { recursive: true, force: true });
    },
  };
}

/** A heartbeat-like message with `index` as a sequence number. */
export function seqMsg(from: bigint, to: bigint, i: number, payload?: Uint8Array): Message {
  return msg({
    type: payload ? MessageType.MsgApp : MessageType.MsgHeartbeat,
    from, to, term: 3, index: i, commit: i,
    ...(payload ? { entries: [{ term: 3, index: i + 1, type: 0, data: payload }] } : {}),
  });
}

/** Raw POST to a peer URL (for malformed or foreign requests). */
export async function rawPost(url: string, body: Uint8Array | string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: "POST", body: typeof body === "string" ? body : Buffer.from(body), headers });
  return { status: res.status, text: await res.text() };
}

/** Nodes started through the returned function are closed after each test. */
export function useNodes(): (o: NodeOptions) => Promise<Node> {
  const open: Node[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((n) => n.close()));
  });
  return async (o) => {
    const n = await startNode(o);
    open.push(n);
    return n;
  };
}

/** Peer TLS from the PEM files in ./fixtures (ca.pem signed peer.pem; stranger.pem is another CA's). */
export function fixtureTls(cert: string, key: string, opts: { ca?: string; clientCertAuth?: boolean } = {}): Promise<Tls> {
  const path = (f: string) => join(import.meta.dir, "fixtures", f);
  return createTls(
    {
      certFile: path(cert), keyFile: path(key), trustedCaFile: opts.ca ? path(opts.ca) : "", clientCertAuth: opts.clientCertAuth === true,
      crlFile: "", allowedCn: "", allowedHostname: "", checkSan: true, selfCert: false, cipherSuites: [],
    },
    { logger: silentLogger },
  );
}
