// etcd 3.6's v3 discovery (server/etcdserver/api/v3discovery), client side, against any v3
// cluster (Conclave or etcd). Keys on the discovery cluster:
//   /_etcd/registry/<token>/_config/size          decimal size, put by the operator
//   /_etcd/registry/<token>/members/<member id>   `name=url,...` of each member
// Registrations are ordered by create revision; the first `size` make the cluster.
import { DiscoveryError, DiscoveryErrors } from "../rpctypes/index.ts";
import { NetworkError, TimeoutError } from "./http-client.ts";
import { parseUrlsMap } from "./initial-cluster.ts";
import { backoffSeconds } from "./backoff.ts";
import type { BootstrapLogger } from "./logger.ts";
import { type V3Client, V3Error } from "./v3-client.ts";

const PREFIX = "/_etcd/registry";

export interface V3DiscoveryOptions {
  readonly token: string;
  readonly memberId: bigint;
  /** This member's `name=url,...`. */
  readonly config: string;
  readonly client: V3Client;
  readonly sleep: (ms: number) => Promise<void>;
  readonly logger: BootstrapLogger;
}

interface Registered {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
}

const clusterPrefix = (token: string) => `${PREFIX}/${token}`;
export const sizeKey = (token: string) => `${clusterPrefix(token)}/_config/size`;
export const membersPrefix = (token: string) => `${clusterPrefix(token)}/members`;

/** A failure worth the backoff-and-retry: nothing answered, or the cluster could not serve. */
function retryable(e: unknown): boolean {
  return e instanceof NetworkError || e instanceof TimeoutError || (e instanceof V3Error && (e.code === 14 || e.code === 4));
}

class Discovery {
  private retries = 0;
  private readonly members: Registered[] = [];

  constructor(private readonly o: V3DiscoveryOptions) {}

  private get selfKey(): string {
    return `${membersPrefix(this.o.token)}/${this.o.memberId.toString(16)}`;
  }

  private async backoff(step: string, e: unknown): Promise<void> {
    const seconds = backoffSeconds(++this.retries);
    this.o.logger.warn(`retry connecting to discovery service: ${step}, retrying in ${seconds}s (${(e as Error).message})`);
    await this.o.sleep(seconds * 1000);
  }

  /** clusterInfo.add: keeps members sorted by create revision; skips bad or repeated keys. */
  private add(key: string, value: string, createRevision: number): void {
    const k = key.trim();
    const val = value.trim();
    let why: string | undefined;
    if (!k.startsWith(membersPrefix(this.o.token))) why = "invalid peer registry key";
    else if (!val.includes("=")) why = "invalid peer info returned from discovery service";
    else if (this.members.some((m) => m.key === k)) why = "found duplicate peer from discovery service";
    if (why !== undefined) {
      this.o.logger.warn(why, { memberKey: k, memberInfo: val });
      return;
    }
    this.members.push({ key: k, value: val, createRevision });
    this.members.sort((a, b) => a.createRevision - b.createRevision);
    this.o.logger.info("found peer from discovery service", { memberKey: k, memberInfo: val });
  }

  private async checkCluster(): Promise<{ size: number; revision: number }> {
    for (;;) {
      let size: number;
      try {
        const r = await this.o.client.range(sizeKey(this.o.token));
        if (r.kvs.length === 0) throw new DiscoveryError(DiscoveryErrors.sizeNotFound);
        const raw = r.kvs[0]!.value;
        if (!/^[+-]?\d+$/.test(raw) || Number(raw) <= 0 || !Number.isSafeInteger(Number(raw))) throw new DiscoveryError(DiscoveryErrors.badSizeKey);
        size = Number(raw);
      } catch (e) {
        if (e instanceof DiscoveryError) throw e;
        this.o.logger.warn("failed to get cluster size from discovery service", { clusterSizeKey: sizeKey(this.o.token), error: (e as Error).message });
        if (!retryable(e) && !(e instanceof V3Error)) throw e;
        await this.backoff("cluster status check", e);
        continue;
      }
      let revision: number;
      try {
        const r = await this.o.client.range(membersPrefix(this.o.token), { prefix: true });
        this.members.length = 0;
        for (const kv of r.kvs) this.add(kv.key, kv.value, kv.createRevision);
        revision = r.revision;
      } catch (e) {
        this.o.logger.warn("failed to get cluster members from discovery service", { error: (e as Error).message });
        if (!retryable(e) && !(e instanceof V3Error)) throw e;
        await this.backoff("cluster status check", e);
        continue;
      }
      this.retries = 0;
      let idx = 0;
      for (const m of this.members) {
        if (m.key === this.selfKey) break;
        if (idx >= size - 1) throw new DiscoveryError(DiscoveryErrors.fullCluster);
        idx++;
      }
      return { size, revision };
    }
  }

  private async registerSelf(): Promise<void> {
    for (;;) {
      try {
        await this.o.client.put(this.selfKey, this.o.config);
        this.retries = 0;
        this.o.logger.info("register member itself successfully", { memberKey: this.selfKey, memberInfo: this.o.config });
        return;
      } catch (e) {
        this.o.logger.warn("failed to register members itself to the discovery service", { memberKey: this.selfKey, error: (e as Error).message });
        if (!retryable(e) && !(e instanceof V3Error)) throw e;
        await this.backoff("register member itself", e);
      }
    }
  }

  /** waitPeers: watches the members prefix from the listing's revision + 1. */
  private async waitPeers(size: number, revision: number): Promise<void> {
    this.o.logger.info("waiting for peers from discovery service", { clusterSize: size, "found-peers": this.members.length });
    let from = revision + 1;
    while (this.members.length < size) {
      try {
        for await (const batch of this.o.client.watch(membersPrefix(this.o.token), { prefix: true, startRevision: from })) {
          if (batch.compactRevision > 0) {
            // History gone: list again rather than miss a registration.
            const again = await this.checkCluster();
            from = again.revision + 1;
            break;
          }
          for (const ev of batch.events) {
            this.add(ev.kv.key, ev.type === "DELETE" ? "" : ev.kv.value, ev.kv.createRevision);
            from = Math.max(from, ev.kv.modRevision + 1);
          }
          if (this.members.length >= size) break;
        }
      } catch (e) {
        if (e instanceof DiscoveryError) throw e;
        if (!retryable(e) && !(e instanceof V3Error)) throw e;
        await this.backoff("waiting for peers", e);
      }
    }
    this.o.logger.info("found all needed peers from discovery service", { clusterSize: size, "found-peers": this.members.length });
  }

  async join(): Promise<string> {
    await this.checkCluster();
    await this.registerSelf();
    const { size, revision } = await this.checkCluster();
    await this.waitPeers(size, revision);
    const us = this.members
      .slice(0, size)
      .map((m) => m.value)
      .join(",");
    try {
      parseUrlsMap(us);
    } catch {
      throw new DiscoveryError(DiscoveryErrors.invalidPeerURL);
    }
    return us;
  }
}

/** JoinCluster of etcd 3.6's v3 discovery: registers and returns the initial cluster string. */
export function joinV3Discovery(o: V3DiscoveryOptions): Promise<string> {
  return new Discovery(o).join();
}
