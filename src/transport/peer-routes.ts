// The peer API as a hono app. Bodies are read from the node request (passed in the env) rather than
// the Web Request, so batches are read without stream adapters and snapshot images go straight
// from the socket to a temp file.
import type { IncomingMessage } from "node:http";
import { rm } from "node:fs/promises";
import { Hono, type Context } from "hono";
import { CodecError } from "../raft/codec.ts";
import { Errors, EtcdError } from "../rpctypes/index.ts";
import type { PeerHandler, PeerMember } from "./types.ts";
import { BodyTooLargeError, readBody, receiveSnapshotStream } from "./body.ts";
import { checkPeer, type PeerCheckOptions } from "./peer-check.ts";
import {
  CLUSTER_VERSION, decodeBatch, formatId, Header, parseDecimalId, parseHexId, Paths, PromoteTexts, remoteAddr, SERVER_VERSION,
} from "./wire.ts";

export interface PeerEnv {
  Bindings: { incoming: IncomingMessage };
}

export interface PeerRoutesOptions {
  readonly clusterId: () => bigint;
  readonly memberId: bigint;
  readonly handler: PeerHandler;
  readonly tmpDir: string;
  readonly logger: { warn(m: string, f?: Record<string, unknown>): void };
  /** The identity check, shared with the stream server. */
  readonly check: PeerCheckOptions;
  /** Largest accepted message batch (bytes). */
  readonly maxBatchBytes: number;
  /** Largest accepted single message (the MsgSnap ahead of a snapshot image). */
  readonly maxMessageBytes: number;
  /** See PeerTransportOptions.collectGarbage. */
  readonly collectGarbage?: () => void;
}

/** Lease requests carry a small JSON object. */
const MAX_LEASE_BODY = 4096;

/** etcd's JSON shape of a member on the peer API (hex ID). */
const memberJson = (m: PeerMember) => ({
  id: formatId(m.id), name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: m.isLearner,
});

export function createPeerRoutes(o: PeerRoutesOptions): Hono<PeerEnv> {
  const app = new Hono<PeerEnv>();
  const check = o.check;

  const text = (status: number, body: string): Response =>
    new Response(body, {
      status,
      headers: { "content-type": "text/plain; charset=utf-8", [Header.clusterId]: formatId(o.clusterId()) },
    });

  // Every POST is checked (peer-check.ts) before its body is read. undefined = go on.
  const refuse = (c: Context<PeerEnv>): Response | undefined => {
    const r = checkPeer(check, (name) => c.req.header(name));
    return r === undefined ? undefined : text(r.status, r.text);
  };

  const badBody = (c: Context<PeerEnv>, e: unknown): Response => {
    if (e instanceof BodyTooLargeError) return text(413, e.message);
    if (e instanceof CodecError || e instanceof SyntaxError) return text(400, e.message);
    throw e;
  };

  app.post(Paths.raft, async (c) => {
    const refused = refuse(c);
    if (refused) return refused;
    let msgs;
    const from = parseHexId(c.req.header(Header.from));
    try {
      const body = await readBody(c.env.incoming, o.maxBatchBytes);
      msgs = decodeBatch(body);
      // Counted once decoded, as etcd counts a message's bytes by its sender.
      if (from !== undefined) o.handler.peerBytesReceived?.(from, body.length);
    } catch (e) {
      o.handler.peerReceiveFailure?.(remoteAddr(c.env.incoming.socket));
      return badBody(c, e);
    }
    if (msgs.length > 0) o.handler.receive(msgs);
    return new Response(null, { status: 204 });
  });

  app.post(Paths.snapshot, async (c) => {
    const refused = refuse(c);
    if (refused) return refused;
    let got;
    try {
      got = await receiveSnapshotStream(c.env.incoming, o.tmpDir, o.maxMessageBytes, o.collectGarbage);
    } catch (e) {
      o.handler.peerReceiveFailure?.(remoteAddr(c.env.incoming.socket));
      return badBody(c, e);
    }
    try {
      await o.handler.receiveSnapshot(got.m, got.path);
      return new Response(null, { status: 204 });
    } catch (e) {
      // The handler owns the file once called; remove it anyway in case it gave up before moving it.
      await rm(got.path, { force: true }).catch(() => {});
      return text(500, e instanceof Error ? e.message : String(e));
    }
  });

  const lease = (call: (id: bigint) => Promise<number>) => async (c: Context<PeerEnv>) => {
    const refused = refuse(c);
    if (refused) return refused;
    let id: bigint | undefined;
    try {
      const body: unknown = JSON.parse(new TextDecoder().decode(await readBody(c.env.incoming, MAX_LEASE_BODY)));
      id = typeof body === "object" && body !== null ? parseDecimalId((body as { ID?: unknown }).ID) : undefined;
    } catch (e) {
      return badBody(c, e);
    }
    if (id === undefined) return text(400, "lease ID is missing or not a decimal uint64");
    try {
      const ttl = await call(id);
      return c.json({ TTL: String(ttl) });
    } catch (e) {
      if (e instanceof EtcdError) return c.json({ error: e.message, code: e.code }, 503);
      return text(500, e instanceof Error ? e.message : String(e));
    }
  };
  app.post(Paths.leases, lease((id) => o.handler.leaseRenew(id)));
  app.post(Paths.leasesInternal, lease((id) => o.handler.leaseRemaining(id)));

  app.get(Paths.members, (c) => {
    c.header(Header.clusterId, formatId(o.clusterId()));
    return c.json(o.handler.members().map(memberJson));
  });

  // A follower forwards MemberPromote here (etcd's peerMemberPromoteHandler): the ID is decimal;
  // not found is 404, "not a learner" and "not in sync" are 412 with etcd's texts, which the
  // sender tells apart by text. Other etcd errors travel as JSON with their code, like leases.
  app.post(`${Paths.memberPromote}:id`, async (c) => {
    const refused = refuse(c);
    if (refused) return refused;
    const raw = c.req.param("id");
    const id = parseDecimalId(raw);
    if (id === undefined) return text(404, `member ${raw} not found in cluster`);
    try {
      const members = await o.handler.promoteMember(id);
      c.header(Header.clusterId, formatId(o.clusterId()));
      return c.json(members.map(memberJson));
    } catch (e) {
      if (!(e instanceof EtcdError)) return text(500, e instanceof Error ? e.message : String(e));
      if (e.message === Errors.memberNotFound.message) return text(404, PromoteTexts.notFound);
      if (e.message === Errors.memberNotLearner.message) return text(412, PromoteTexts.notLearner);
      if (e.message === Errors.learnerNotReady.message) return text(412, PromoteTexts.notReady);
      return c.json({ error: e.message, code: e.code }, 503);
    }
  });

  app.get(Paths.raftStatus, (c) => {
    const s = o.handler.raftStatus();
    c.header(Header.clusterId, formatId(o.clusterId()));
    return c.json({ term: s.term, commit: s.commit, applied: s.applied, leader: formatId(s.leader) });
  });

  app.get(Paths.version, (c) => c.json({ etcdserver: SERVER_VERSION, etcdcluster: CLUSTER_VERSION }));

  app.onError((e, c) => {
    o.logger.warn("peer request failed", { path: c.req.path, error: e instanceof Error ? e.message : String(e) });
    return text(500, e instanceof Error ? e.message : String(e));
  });

  return app;
}
