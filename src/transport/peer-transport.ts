// The peer transport: the peer API served on the listen peer URLs, one sender per peer, snapshot
// uploads, lease forwarding to the leader and the bootstrap probe of remote members.
import { Code, Errors, EtcdError } from "../rpctypes/index.ts";
import { MessageType, type Message } from "../raft/message.ts";
import { PeerRequestError } from "./errors.ts";
import { PeerHttpClient, type PeerResponse } from "./http-client.ts";
import { listenAll } from "./http-server.ts";
import type { PeerCheckOptions } from "./peer-check.ts";
import { collectEvery } from "../runtime/heap-governor.ts";
import { createPeerRoutes } from "./peer-routes.ts";
import { PeerSender, type SenderContext } from "./peer-sender.ts";
import { createStreamServer } from "./stream-server.ts";
import type { PeerMember, PeerTransport, PeerTransportLimits, PeerTransportOptions } from "./types.ts";
import { formatId, frameOne, Header, parseHexId, Paths, PromoteTexts, SERVER_VERSION, Texts } from "./wire.ts";

/** etcd's --max-request-bytes default. */
const DEFAULT_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

/**
 * What the receiving side buffers at most, from the largest message raft sends: an append
 * carries at most 1 MiB of entries (maxSizePerMsg) or one larger entry, and an entry is at most
 * a client request (max-request-bytes plus gRPC's 512 KiB of headroom) in its envelope. A batch
 * (POST /raft) is the sender's batch size plus one such message. etcd's pipeline reads up to
 * the whole body; these bounds keep a forged frame or body from costing more.
 */
export function peerLimitsFor(maxRequestBytes: number): Pick<PeerTransportLimits, "maxFrameBytes" | "maxReceiveBytes"> {
  const maxFrameBytes = 1024 * 1024 + maxRequestBytes + 512 * 1024 + 64 * 1024;
  return { maxFrameBytes, maxReceiveBytes: 4 * 1024 * 1024 + maxFrameBytes };
}

export const defaultLimits: PeerTransportLimits = {
  maxQueue: 4096,
  maxBatchBytes: 4 * 1024 * 1024,
  requestTimeoutMs: 5000,
  snapshotIdleMs: 5000,
  probeTimeoutMs: 1000,
  backoffMinMs: 100,
  backoffMaxMs: 1000,
  ...peerLimitsFor(DEFAULT_MAX_REQUEST_BYTES),
};

const ok = (r: PeerResponse) => r.status >= 200 && r.status < 300;

export async function createPeerTransport(opts: PeerTransportOptions): Promise<PeerTransport> {
  const limits: PeerTransportLimits = { ...defaultLimits, ...opts.limits };
  const now = opts.now ?? (() => performance.now());
  const log = opts.logger;
  const senders = new Map<bigint, PeerSender>();
  const handlerIsMember = opts.handler.isMember;
  const check: PeerCheckOptions = {
    clusterId: opts.clusterId,
    memberId: opts.memberId,
    logger: log,
    isRemoved: (id) => opts.handler.isRemoved(id),
    // etcd's rafthttp asks its peer table; so does this one unless the handler decides.
    isMember: handlerIsMember !== undefined ? (id) => handlerIsMember.call(opts.handler, id) : (id) => senders.has(id),
  };
  const routes = createPeerRoutes({
    check,
    clusterId: opts.clusterId,
    memberId: opts.memberId,
    handler: opts.handler,
    tmpDir: opts.tmpDir,
    logger: log,
    maxBatchBytes: limits.maxReceiveBytes,
    maxMessageBytes: limits.maxFrameBytes,
    ...(opts.collectGarbage ? { collectGarbage: opts.collectGarbage } : {}),
  });
  const streams = opts.streams !== false;
  const streamServer = createStreamServer({
    clusterId: opts.clusterId, memberId: opts.memberId, handler: opts.handler, logger: log, maxFrameBytes: limits.maxFrameBytes, check,
  });
  const listening = await listenAll(
    opts.listenUrls, (req, env) => routes.fetch(req, env), opts.tls, streams ? streamServer.onUpgrade : undefined,
  );
  const dialTls = opts.tls ? () => opts.tls!.dial() : undefined;
  const http = new PeerHttpClient(dialTls);
  let removedReported = false;
  let closed = false;

  const headers = (to: bigint): Record<string, string> => ({
    [Header.clusterId]: formatId(opts.clusterId()),
    [Header.from]: formatId(opts.memberId),
    [Header.to]: formatId(to),
    [Header.version]: SERVER_VERSION,
  });

  const onRemoved = () => {
    if (removedReported || closed) return;
    removedReported = true;
    log.warn("the member has been permanently removed from the cluster");
    opts.onRemoved();
  };

  // A 412 means the peer is not who we think: another cluster, or another member at that URL. The
  // member keeps running but cannot talk to that peer (etcd's wording in the log).
  const onPreconditionFailed = (id: bigint, res: PeerResponse) => {
    const body = res.body.toString().trim();
    const remote = String(res.headers[Header.clusterId] ?? "");
    const local = formatId(opts.clusterId());
    const text = body === Texts.toMismatch
      ? `request sent was ignored (the member at that URL is not ${formatId(id)})`
      : `request sent was ignored (cluster ID mismatch: remote[${formatId(id)}]=${remote}, local=${local})`;
    const fields = { remote: formatId(id), remoteClusterId: remote, localClusterId: local, answer: body };
    if (log.error) log.error(text, fields);
    else log.warn(text, fields);
  };

  const ctx: SenderContext = {
    http,
    tls: dialTls,
    streams,
    logger: log,
    limits,
    headers,
    now,
    onBytesSent: (id, n) => opts.handler.peerBytesSent?.(id, n),
    onSendFailures: (id, n) => opts.handler.peerSendFailures?.(id, n),
    onUnreachable: (id) => {
      if (!closed) opts.onUnreachable(id);
    },
    onRemoved,
    onPreconditionFailed,
  };

  /** Tries each URL of the leader in turn; the remote handler's EtcdError passes through. */
  const forwardLease = async (leader: bigint, path: string, id: bigint): Promise<number> => {
    const peer = senders.get(leader);
    if (peer === undefined || peer.allUrls().length === 0) throw new PeerRequestError(`no peer URLs known for leader ${formatId(leader)}`);
    const body = new TextEncoder().encode(JSON.stringify({ ID: id.toString() }));
    let last = "no answer";
    for (const url of peer.allUrls()) {
      let res: PeerResponse;
      try {
        res = await http.request(new URL(path, url), {
          method: "POST",
          headers: { ...headers(leader), "content-type": "application/json" },
          body,
          timeoutMs: limits.requestTimeoutMs,
        });
      } catch (e) {
        last = e instanceof Error ? e.message : String(e);
        continue;
      }
      if (res.status === 200) {
        const ttl = parseTtl(res.body);
        if (ttl === undefined) throw new PeerRequestError(`malformed lease answer from ${url.href}`);
        peer.markActive();
        return ttl;
      }
      if (res.status === 503) {
        const err = parseEtcdError(res.body);
        if (err) throw err;
      }
      last = `${url.href}${path}: HTTP ${res.status} ${res.body.toString().trim()}`;
    }
    throw new PeerRequestError(`lease request to leader ${formatId(leader)} failed: ${last}`);
  };

  /**
   * MemberPromote on the leader (etcd's promoteMemberHTTP): each leader URL in turn; the leader's
   * refusals map back to etcd's errors, an unreachable leader gives PeerRequestError.
   */
  const promoteMember = async (leader: bigint, id: bigint): Promise<PeerMember[]> => {
    const peer = senders.get(leader);
    if (peer === undefined || peer.allUrls().length === 0) throw new PeerRequestError(`no peer URLs known for leader ${formatId(leader)}`);
    let last = "no answer";
    for (const url of peer.allUrls()) {
      let res: PeerResponse;
      try {
        res = await http.request(new URL(`${Paths.memberPromote}${id.toString()}`, url), {
          method: "POST",
          headers: headers(leader),
          timeoutMs: limits.requestTimeoutMs,
        });
      } catch (e) {
        last = e instanceof Error ? e.message : String(e);
        continue;
      }
      const body = res.body.toString().trim();
      if (res.status === 200) {
        const members = parseMembers(res.body);
        if (members === undefined) throw new PeerRequestError(`malformed member promote answer from ${url.href}`);
        peer.markActive();
        return members;
      }
      if (res.status === 404) throw Errors.memberNotFound;
      if (res.status === 412) {
        // Both refusals share the status; the text tells them apart (as etcd's client does).
        if (body.includes(PromoteTexts.notReady)) throw Errors.learnerNotReady;
        if (body.includes(PromoteTexts.notLearner)) throw Errors.memberNotLearner;
      }
      if (res.status === 503) {
        const err = parseEtcdError(res.body);
        if (err) throw err;
      }
      if (res.status === 410) onRemoved();
      last = `${url.href}: HTTP ${res.status} ${body}`;
    }
    throw new PeerRequestError(`member promote on leader ${formatId(leader)} failed: ${last}`);
  };

  const probe = async (base: string): Promise<Awaited<ReturnType<PeerTransport["fetchMembers"]>>> => {
    let url: URL;
    try {
      url = new URL(base);
    } catch {
      return undefined;
    }
    const get = (path: string) => http.request(new URL(path, url), { method: "GET", headers: {}, timeoutMs: limits.probeTimeoutMs });
    const res = await get(Paths.members).catch(() => undefined);
    if (res === undefined || res.status !== 200) return undefined;
    const clusterId = parseHexId(String(res.headers[Header.clusterId] ?? ""));
    const members = parseMembers(res.body);
    if (clusterId === undefined || members === undefined) return undefined;
    const st = await get(Paths.raftStatus).catch(() => undefined);
    const commit = st?.status === 200 ? parseCommit(st.body) : undefined;
    return commit === undefined ? { clusterId, members } : { clusterId, members, status: { commit } };
  };

  return {
    urls: listening.urls,

    addPeer(id, urls) {
      if (closed) return;
      const existing = senders.get(id);
      if (existing) existing.setUrls(urls);
      else senders.set(id, new PeerSender(id, urls, ctx));
    },

    updatePeer(id, urls) {
      senders.get(id)?.setUrls(urls);
    },

    removePeer(id) {
      senders.get(id)?.stop();
      senders.delete(id);
    },

    send(msgs: readonly Message[]) {
      if (closed) return;
      const touched = new Set<PeerSender>();
      for (const m of msgs) {
        if (m.type === MessageType.MsgSnap) throw new Error("MsgSnap goes through sendSnapshot");
        const peer = senders.get(m.to);
        if (peer === undefined) continue; // unknown receiver: dropped, as etcd does
        peer.enqueue(m);
        touched.add(peer);
      }
      for (const peer of touched) peer.kick();
    },

    sendSnapshot(m, image) {
      const report = (okay: boolean) => {
        if (!closed) opts.onSnapshotStatus(m.to, okay);
      };
      const peer = senders.get(m.to);
      const url = peer?.currentUrl();
      if (peer === undefined || url === undefined || closed) {
        queueMicrotask(() => report(false));
        return;
      }
      http
        .upload(
          new URL(Paths.snapshot, url),
          { ...headers(m.to), "content-type": "application/octet-stream" },
          async (write) => {
            await write(frameOne(m));
            const gc = collectEvery(opts.collectGarbage);
            for await (const chunk of image()) {
              await write(chunk);
              gc(chunk.length);
            }
          },
          limits.snapshotIdleMs,
        )
        .then(
          (res) => {
            if (ok(res)) {
              peer.markActive();
              return report(true);
            }
            if (res.status === 410) onRemoved();
            else if (res.status === 412) onPreconditionFailed(m.to, res);
            log.warn("failed to send snapshot", { to: formatId(m.to), status: res.status, error: res.body.toString().trim() });
            report(false);
          },
          (e: unknown) => {
            log.warn("failed to send snapshot", { to: formatId(m.to), error: e instanceof Error ? e.message : String(e) });
            if (!closed) opts.onUnreachable(m.to);
            report(false);
          },
        );
    },

    activeSince(id) {
      const peer = senders.get(id);
      const t = peer?.lastActive;
      if (t === undefined) return undefined;
      return peer!.streaming ? 0 : now() - t;
    },

    connectedFor(id) {
      const since = senders.get(id)?.streamSince;
      return since === undefined ? undefined : now() - since;
    },

    peerStats(id) {
      const p = senders.get(id);
      if (p === undefined) return undefined;
      return { streaming: p.streaming, streamsOpened: p.streamsOpened, streamWrites: p.streamWrites, posts: p.requests, dropped: p.dropped };
    },

    leaseRenew: (leader, id) => forwardLease(leader, Paths.leases, id),
    leaseRemaining: (leader, id) => forwardLease(leader, Paths.leasesInternal, id),
    promoteMember,

    async fetchMembers(urls) {
      for (const u of urls) {
        const got = await probe(u);
        if (got !== undefined) return got;
      }
      return undefined;
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const s of senders.values()) s.stop();
      senders.clear();
      http.close();
      streamServer.close();
      await listening.close();
    },
  };
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString());
  } catch {
    return undefined;
  }
}

function parseTtl(body: Buffer): number | undefined {
  const j = parseJson(body) as { TTL?: unknown } | undefined;
  const n = typeof j?.TTL === "string" && /^-?[0-9]+$/.test(j.TTL) ? Number(j.TTL) : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

function parseEtcdError(body: Buffer): EtcdError | undefined {
  const j = parseJson(body) as { error?: unknown; code?: unknown } | undefined;
  const code = j?.code;
  if (typeof j?.error !== "string" || typeof code !== "number" || !Object.values(Code).includes(code as Code)) return undefined;
  return new EtcdError(code as Code, j.error);
}

function parseCommit(body: Buffer): number | undefined {
  const j = parseJson(body) as { commit?: unknown } | undefined;
  return typeof j?.commit === "number" && Number.isSafeInteger(j.commit) && j.commit >= 0 ? j.commit : undefined;
}

function parseMembers(body: Buffer): PeerMember[] | undefined {
  const j = parseJson(body);
  if (!Array.isArray(j)) return undefined;
  const out: PeerMember[] = [];
  const strings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === "string");
  for (const m of j as unknown[]) {
    if (typeof m !== "object" || m === null) return undefined;
    const r = m as Record<string, unknown>;
    const id = parseHexId(typeof r.id === "string" ? r.id : undefined);
    if (id === undefined || typeof r.name !== "string" || !strings(r.peerURLs) || !strings(r.clientURLs)) return undefined;
    out.push({ id, name: r.name, peerURLs: r.peerURLs, clientURLs: r.clientURLs, isLearner: r.isLearner === true });
  }
  return out;
}
