// The identity check every peer POST and every stream upgrade passes: same cluster, meant for this
// member (when the sender names one), and a sender that has not been removed. etcd's texts.
import { formatId, Header, parseHexId, Texts } from "./wire.ts";

export interface PeerCheckOptions {
  readonly clusterId: () => bigint;
  readonly memberId: bigint;
  isRemoved(id: bigint): boolean;
  readonly logger: { warn(m: string, f?: Record<string, unknown>): void };
}

export interface Refusal {
  readonly status: 410 | 412;
  readonly text: string;
}

/** undefined = accepted. `header` reads a request header by its lower-case name. */
export function checkPeer(o: PeerCheckOptions, header: (name: string) => string | undefined): Refusal | undefined {
  const local = o.clusterId();
  const rawCluster = header(Header.clusterId);
  if (parseHexId(rawCluster) !== local) {
    o.logger.warn(Texts.clusterMismatch, { remote: rawCluster ?? "", local: formatId(local), from: header(Header.from) ?? "" });
    return { status: 412, text: Texts.clusterMismatch };
  }
  const to = header(Header.to);
  if (to !== undefined && parseHexId(to) !== o.memberId) {
    o.logger.warn(Texts.toMismatch, { to, local: formatId(o.memberId) });
    return { status: 412, text: Texts.toMismatch };
  }
  const from = parseHexId(header(Header.from));
  if (from !== undefined && o.isRemoved(from)) return { status: 410, text: Texts.removed };
  return undefined;
}
