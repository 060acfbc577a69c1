// The identity check every peer POST and every stream upgrade passes before any body is read:
// same cluster, meant for this member (when the sender names one), and a sender that is a
// member now: one that was removed gets 410, one the member does not know gets etcd's 404
// "error sender not found" (rafthttp's streamHandler). etcd's texts.
import { formatId, Header, parseHexId, Texts } from "./wire.ts";

export interface PeerCheckOptions {
  readonly clusterId: () => bigint;
  readonly memberId: bigint;
  isRemoved(id: bigint): boolean;
  /** True when `id` is a member (voting or learner) of this member's cluster as it knows it now. */
  isMember(id: bigint): boolean;
  readonly logger: { warn(m: string, f?: Record<string, unknown>): void };
  /** When a refusal was last logged (performance.now()); refusals are logged at most once a second. */
  lastLogged?: number;
}

export interface Refusal {
  readonly status: 404 | 410 | 412;
  readonly text: string;
}

/** Refusals are logged at most this often: an unknown sender retries, and a flood must not fill the log. */
const LOG_EVERY_MS = 1000;
function warnRarely(o: PeerCheckOptions, m: string, f: Record<string, unknown>): void {
  const now = performance.now();
  if (o.lastLogged !== undefined && now - o.lastLogged < LOG_EVERY_MS) return;
  o.lastLogged = now;
  o.logger.warn(m, f);
}

/** undefined = accepted. `header` reads a request header by its lower-case name. */
export function checkPeer(o: PeerCheckOptions, header: (name: string) => string | undefined): Refusal | undefined {
  const local = o.clusterId();
  const rawCluster = header(Header.clusterId);
  if (parseHexId(rawCluster) !== local) {
    warnRarely(o, Texts.clusterMismatch, { remote: rawCluster ?? "", local: formatId(local), from: header(Header.from) ?? "" });
    return { status: 412, text: Texts.clusterMismatch };
  }
  const to = header(Header.to);
  if (to !== undefined && parseHexId(to) !== o.memberId) {
    warnRarely(o, Texts.toMismatch, { to, local: formatId(o.memberId) });
    return { status: 412, text: Texts.toMismatch };
  }
  const from = parseHexId(header(Header.from));
  if (from === undefined) return { status: 404, text: Texts.invalidFrom };
  if (o.isRemoved(from)) return { status: 410, text: Texts.removed };
  if (!o.isMember(from)) {
    warnRarely(o, "failed to find member in cluster", { from: formatId(from), "cluster-id": formatId(local) });
    return { status: 404, text: Texts.senderNotFound };
  }
  return undefined;
}
