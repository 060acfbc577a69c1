// etcd's v2 discovery protocol, client side (etcdserver/api/v2discovery with the v2 keys
// client beneath it), step for step so that it works against any server etcd members work
// against: `conclave discovery`, a member's /v2/keys path, real etcd's v2 keys.
//
//   1. GET <token>/_config/size            → size
//   2. GET <token>                          → registrations, ordered by createdIndex; full?
//   3. PUT <token>/<id>?prevExist=false     → register (105 = duplicate ID)
//   4. GET <token>/<id>?wait=true&waitIndex → the registration is visible
//   5. steps 1-2 again, then long-poll <token>?recursive=true&wait=true until `size` found
import * as v from "valibot";
import { DiscoveryError, DiscoveryErrors, V2ClientErrors } from "../rpctypes/index.ts";
import { BootstrapError } from "./errors.ts";
import { type HttpClient, type HttpResponse, NetworkError } from "./http-client.ts";
import { parseUrlsMap } from "./initial-cluster.ts";
import { backoffSeconds } from "./backoff.ts";
import type { BootstrapLogger } from "./logger.ts";
import { formatV2Error, type V2ErrorBody, V2ErrorSchema, type V2Event, V2EventSchema, type V2Node } from "./v2-protocol.ts";

/** client.DefaultRequestTimeout. */
const REQUEST_TIMEOUT_MS = 5000;

export interface V2DiscoveryOptions {
  /** --discovery: the token URL. */
  readonly url: string;
  readonly memberId: bigint;
  /** This member's `name=url,...` (URLsMap.String() of the self-only cluster). */
  readonly config: string;
  readonly http: HttpClient;
  readonly sleep: (ms: number) => Promise<void>;
  readonly logger: BootstrapLogger;
}

/** A v2 client error whose kind decides etcd's next step. */
class ClusterError extends Error {
  constructor(readonly detail: string) {
    super(V2ClientErrors.clusterUnavailable);
  }
}
class KeysError extends Error {
  constructor(readonly body: V2ErrorBody) {
    super(formatV2Error(body));
  }
}
class InvalidJson extends Error {
  constructor() {
    super(V2ClientErrors.invalidJSON);
  }
}
class EmptyBody extends Error {
  constructor() {
    super(V2ClientErrors.emptyBody);
  }
}

interface KeysResponse {
  event: V2Event;
  /** X-Etcd-Index, 0 when absent. */
  index: number;
}

/** unmarshalHTTPResponse of etcd's v2 client. */
function decode(res: HttpResponse): KeysResponse {
  const text = new TextDecoder().decode(res.body);
  if (res.status === 200 || res.status === 201) {
    if (res.body.length === 0) throw new EmptyBody();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new InvalidJson();
    }
    const ev = v.safeParse(V2EventSchema, json);
    if (!ev.success) throw new InvalidJson();
    const raw = res.headers["x-etcd-index"];
    let index = 0;
    if (raw !== undefined && raw !== "") {
      if (!/^\d+$/.test(raw)) throw new BootstrapError(`strconv.ParseUint: parsing "${raw}": invalid syntax`);
      index = Number(raw);
    }
    return { event: ev.output, index };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InvalidJson();
  }
  const err = v.safeParse(V2ErrorSchema, json);
  if (!err.success) throw new InvalidJson();
  throw new KeysError(err.output);
}

class Discovery {
  private retries = 0;
  private readonly base: URL;
  /** The token path, e.g. "/3e86b5…" or "/v2/keys/_etcd/registry/<tok>". */
  private readonly cluster: string;

  constructor(private readonly o: V2DiscoveryOptions) {
    let u: URL;
    try {
      u = new URL(o.url);
    } catch {
      throw new BootstrapError(`parse ${JSON.stringify(o.url)}: invalid URL`);
    }
    this.cluster = u.pathname;
    this.base = new URL(`${u.protocol}//${u.host}`);
  }

  private get selfKey(): string {
    return joinPath(this.cluster, this.o.memberId.toString(16));
  }

  private url(path: string, query: string): URL {
    return new URL(`${path}?${query}`, this.base);
  }

  /** One request of the v2 client: 5xx and unreachable servers are cluster errors. */
  private async send(method: "GET" | "PUT", url: URL, body?: string, timeoutMs: number | undefined = REQUEST_TIMEOUT_MS): Promise<KeysResponse> {
    let res: HttpResponse;
    try {
      res = await this.o.http.request({
        method,
        url,
        body,
        timeoutMs,
        headers: body === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" },
      });
    } catch (e) {
      if (e instanceof NetworkError) throw new ClusterError(`error #0: ${e.message}`);
      throw e;
    }
    if (res.status >= 500) {
      const why =
        res.status === 500 || res.status === 503
          ? `client: etcd member ${this.base.origin} has no leader`
          : `client: etcd member ${this.base.origin} returns server error [${res.status}]`;
      throw new ClusterError(`error #0: ${why}`);
    }
    return decode(res);
  }

  private get(path: string): Promise<KeysResponse> {
    return this.send("GET", this.url(path, "quorum=false&recursive=false&sorted=false"));
  }

  /** A v2 watcher's Next(): re-polls on an empty 200 (the server's long-poll timeout). */
  private async watchNext(path: string, waitIndex: number, recursive: boolean): Promise<KeysResponse> {
    for (;;) {
      try {
        return await this.send("GET", this.url(path, `recursive=${recursive}&wait=true&waitIndex=${waitIndex}`), undefined, undefined);
      } catch (e) {
        if (e instanceof EmptyBody) continue;
        throw e;
      }
    }
  }

  async join(): Promise<string> {
    // Fast path: a full cluster is refused before registering.
    await this.checkCluster();
    await this.createSelf();
    const { nodes, size, index } = await this.checkCluster();
    const all = await this.waitNodes(nodes, size, index);
    return nodesToCluster(all, size);
  }

  private async createSelf(): Promise<void> {
    let res: KeysResponse;
    try {
      res = await this.send("PUT", this.url(this.selfKey, "prevExist=false"), `value=${encodeURIComponent(this.o.config)}`);
    } catch (e) {
      if (e instanceof KeysError && e.body.errorCode === 105) throw new DiscoveryError(DiscoveryErrors.duplicateID);
      throw asFatal(e);
    }
    // Ensure self appears on the server we connected to.
    try {
      await this.watchNext(this.selfKey, res.event.node.createdIndex, false);
    } catch (e) {
      throw asFatal(e);
    }
  }

  private async checkCluster(): Promise<{ nodes: V2Node[]; size: number; index: number }> {
    const configKey = joinPath(this.cluster, "_config");
    const sizeKey = joinPath(configKey, "size");
    let sizeRes: KeysResponse;
    try {
      sizeRes = await this.get(sizeKey);
    } catch (e) {
      // etcd compares against *client.Error while the client returns client.Error: a 404
      // therefore surfaces as the client's text ("100: Key not found (...) [n]"), as here.
      if (e instanceof InvalidJson) throw new DiscoveryError(DiscoveryErrors.badDiscoveryEndpoint);
      if (e instanceof ClusterError) return this.retry("cluster status check", e.detail, () => this.checkCluster());
      throw asFatal(e);
    }
    const raw = sizeRes.event.node.value ?? "";
    if (!/^\d+$/.test(raw) || BigInt(raw) > BigInt(Number.MAX_SAFE_INTEGER)) throw new DiscoveryError(DiscoveryErrors.badSizeKey);
    const size = Number(raw);
    let res: KeysResponse;
    try {
      res = await this.get(this.cluster);
    } catch (e) {
      if (e instanceof ClusterError) return this.retry("cluster status check", e.detail, () => this.checkCluster());
      throw asFatal(e);
    }
    const nodes = (res.event.node.nodes ?? []).filter((n) => base(n.key) !== "_config");
    nodes.sort((a, b) => a.createdIndex - b.createdIndex);
    const self = base(this.selfKey);
    for (let i = 0; i < nodes.length; i++) {
      if (base(nodes[i]!.key) === self) break;
      // size-1 is computed in uint64 by etcd: a size of 0 never fills.
      if (size > 0 && i >= size - 1) throw new DiscoveryError(DiscoveryErrors.fullCluster);
    }
    return { nodes, size, index: res.index };
  }

  /** logAndBackoffForRetry: one line naming the step, the service and the cause. */
  private async retry<T>(step: string, detail: string, again: () => Promise<T>): Promise<T> {
    const seconds = backoffSeconds(++this.retries);
    this.o.logger.warn(`${step}: error connecting to ${this.base.origin}, retrying in ${seconds}s (${detail})`);
    await this.o.sleep(seconds * 1000);
    return again();
  }

  private async waitNodes(nodes: V2Node[], size: number, index: number): Promise<V2Node[]> {
    const all = nodes.length > size ? nodes.slice(0, size) : [...nodes];
    const self = base(this.selfKey);
    for (const n of all) {
      if (base(n.key) === self) this.o.logger.info(`found self ${self} in the cluster`);
      else this.o.logger.info(`found peer ${base(n.key)} in the cluster`);
    }
    // Watch from the index after the listing (AfterIndex = index).
    let waitIndex = index + 1;
    while (all.length < size) {
      this.o.logger.info(`found ${all.length} peer(s), waiting for ${size - all.length} more`);
      let res: KeysResponse;
      try {
        res = await this.watchNext(this.cluster, waitIndex, true);
      } catch (e) {
        if (e instanceof ClusterError) {
          return this.retry("waiting for other nodes", e.detail, async () => {
            const again = await this.checkCluster();
            return this.waitNodes(again.nodes, again.size, again.index);
          });
        }
        throw asFatal(e);
      }
      waitIndex = res.event.node.modifiedIndex + 1;
      this.o.logger.info(`found peer ${base(res.event.node.key)} in the cluster`);
      all.push(res.event.node);
    }
    this.o.logger.info(`found ${all.length} needed peer(s)`);
    return all;
  }
}

/** Anything but a DiscoveryError keeps its text and stops the join. */
function asFatal(e: unknown): Error {
  if (e instanceof DiscoveryError || e instanceof BootstrapError) return e;
  if (e instanceof Error) return new DiscoveryError(e.message);
  return new DiscoveryError(String(e));
}

function joinPath(a: string, b: string): string {
  return `/${[...a.split("/"), ...b.split("/")].filter((p) => p !== "").join("/")}`;
}

function base(key: string): string {
  const parts = key.split("/").filter((p) => p !== "");
  return parts[parts.length - 1] ?? "/";
}

/** nodesToCluster: the values joined; a bad URL or a name listed twice is an error. */
function nodesToCluster(nodes: readonly V2Node[], size: number): string {
  const us = nodes.map((n) => n.value ?? "").join(",");
  let m: Map<string, string[]>;
  try {
    m = parseUrlsMap(us);
  } catch {
    throw new DiscoveryError(DiscoveryErrors.invalidURL);
  }
  if (m.size !== size) throw new DiscoveryError(DiscoveryErrors.duplicateName);
  return us;
}

/** JoinCluster: registers this member and returns the initial cluster string. */
export function joinV2Discovery(o: V2DiscoveryOptions): Promise<string> {
  return new Discovery(o).join();
}
