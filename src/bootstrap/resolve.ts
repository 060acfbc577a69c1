// The bootstrap decision for a member without data: which of the four sources applies
// (--initial-cluster, --discovery, --discovery-endpoints/--discovery-token, --discovery-srv)
// and the InitialCluster it yields, checked the same way whatever the source
// (etcd's PeerURLsMapAndToken, the join in bootstrapNewClusterNoWAL, VerifyBootstrap).
import type { ServerConfig } from "../config/index.ts";
import { urlString, verifyBootstrap } from "../config/index.ts";
import { BootstrapError } from "./errors.ts";
import { createHttpClient, type HttpClient } from "./http-client.ts";
import { formatUrlsMap, hasDuplicateUrl, type InitialCluster, parseUrlsMap } from "./initial-cluster.ts";
import type { BootstrapLogger } from "./logger.ts";
import { type Resolver, tcpAddrString } from "./resolver.ts";
import { srvClusterNames } from "./srv.ts";
import { joinV2Discovery } from "./v2-discovery.ts";
import { V3Client } from "./v3-client.ts";
import { joinV3Discovery } from "./v3-discovery.ts";

export interface BootstrapEffects {
  readonly resolver: Resolver;
  readonly sleep: (ms: number) => Promise<void>;
  readonly logger: BootstrapLogger;
  readonly readFile: (path: string) => Uint8Array;
  /** etcd's member ID formula (SHA-1 of sorted peer URLs + token). */
  readonly memberId: (peerUrls: readonly string[], token: string) => bigint;
  /** HTTP client factory; default node:http(s) with the given proxy / TLS. */
  readonly http?: (o: { proxy?: URL }) => HttpClient;
}

export type ResolvedBootstrap = InitialCluster & {
  /** With https SRV peers and no --peer-trusted-ca-file: peers' certificates must name the domain. */
  readonly peerServerName?: string;
};

/** Which source this configuration bootstraps from. */
export function bootstrapSource(c: ServerConfig): InitialCluster["source"] {
  if (c.discovery !== "") return "discovery";
  if (c.v3Discovery.endpoints.length > 0) return "v3-discovery";
  if (c.discoverySrv !== "") return "srv";
  return "static";
}

function selfOnly(c: ServerConfig): Map<string, string[]> {
  return new Map([[c.name, c.initialAdvertisePeerUrls.map((u) => urlString(u)).sort()]]);
}

/** newProxyFunc: a proxy without an http(s) scheme is tried as http://<proxy>. */
function proxyUrl(raw: string, logger: BootstrapLogger): URL | undefined {
  if (raw === "") return undefined;
  let u: URL | undefined;
  try {
    u = new URL(raw);
    if (!u.protocol.startsWith("http")) u = undefined;
  } catch {
    u = undefined;
  }
  if (u === undefined) {
    try {
      u = new URL(`http://${raw}`);
    } catch {
      throw new BootstrapError(`invalid proxy address ${JSON.stringify(raw)}: parse error`);
    }
  }
  logger.info("running proxy with discovery", { "proxy-url": u.href });
  return u;
}

/** `user` or `user:password` (with --discovery-password when the colon is absent). */
function credentials(c: ServerConfig): { username?: string; password?: string } {
  const { user, password } = c.v3Discovery;
  if (user === "") return {};
  const colon = user.indexOf(":");
  if (colon >= 0) return { username: user.slice(0, colon), password: user.slice(colon + 1) };
  if (password === "") throw new BootstrapError("--discovery-user without a password: give --discovery-password or user:password");
  return { username: user, password };
}

function v3ClientFor(c: ServerConfig, fx: BootstrapEffects): V3Client {
  const d = c.v3Discovery;
  const read = (p: string) => {
    try {
      return fx.readFile(p);
    } catch (e) {
      throw new BootstrapError(`cannot read ${p}: ${(e as Error).message}`);
    }
  };
  const tlsWanted = d.cert !== "" || d.key !== "" || d.cacert !== "" || !d.insecureTransport || d.insecureSkipTlsVerify;
  return new V3Client({
    endpoints: d.endpoints,
    secure: tlsWanted,
    tls: {
      ...(d.cacert !== "" ? { ca: read(d.cacert) } : {}),
      ...(d.cert !== "" ? { cert: read(d.cert) } : {}),
      ...(d.key !== "" ? { key: read(d.key) } : {}),
      insecureSkipVerify: d.insecureSkipTlsVerify,
    },
    ...credentials(c),
    dialTimeoutMs: d.dialTimeoutMs,
    requestTimeoutMs: d.requestTimeoutMs,
  });
}

/** The members a discovery join returned, checked as etcd checks them. */
function fromDiscovery(str: string): Map<string, string[]> {
  const m = parseUrlsMap(str);
  if (hasDuplicateUrl(m)) throw new BootstrapError(`discovery cluster ${formatUrlsMap(m)} has duplicate url`);
  return m;
}

/**
 * Produces the InitialCluster of a member that has no data yet. Discovery registers the
 * member and waits for the others; DNS SRV resolves records; static reads the flags.
 */
export async function resolveInitialCluster(c: ServerConfig, fx: BootstrapEffects): Promise<ResolvedBootstrap> {
  const source = bootstrapSource(c);
  const httpFor = fx.http ?? ((o: { proxy?: URL }) => createHttpClient({ proxy: o.proxy, dialTimeoutMs: 30_000 }));
  switch (source) {
    case "discovery": {
      const self = selfOnly(c);
      const token = c.discovery;
      const http = httpFor({ proxy: proxyUrl(c.discoveryProxy, fx.logger) });
      try {
        const str = await joinV2Discovery({
          url: c.discovery,
          memberId: fx.memberId(self.get(c.name)!, token),
          config: formatUrlsMap(self),
          http,
          sleep: fx.sleep,
          logger: fx.logger,
        });
        return { members: fromDiscovery(str), token, source };
      } finally {
        http.close();
      }
    }
    case "v3-discovery": {
      const self = selfOnly(c);
      const token = c.v3Discovery.token;
      fx.logger.info("Bootstrapping cluster using v3 discovery.");
      const client = v3ClientFor(c, fx);
      try {
        const str = await joinV3Discovery({
          token,
          memberId: fx.memberId(self.get(c.name)!, token),
          config: formatUrlsMap(self),
          client,
          sleep: fx.sleep,
          logger: fx.logger,
        });
        return { members: fromDiscovery(str), token, source };
      } finally {
        client.close();
      }
    }
    case "srv": {
      const found = await srvClusterNames({
        name: c.name,
        domain: c.discoverySrv,
        serviceName: c.discoverySrvName,
        advertisePeerUrls: c.initialAdvertisePeerUrls.map((u) => urlString(u)),
        resolver: fx.resolver,
        logger: fx.logger,
      });
      const members = parseUrlsMap(found.pairs.join(","));
      if (!members.has(c.name)) throw new BootstrapError(`cannot find local etcd member ${JSON.stringify(c.name)} in SRV records`);
      const peerServerName = found.hasHttps && c.peerTrustedCaFile === "" ? c.discoverySrv : undefined;
      return { members, token: c.initialClusterToken, source, ...(peerServerName !== undefined ? { peerServerName } : {}) };
    }
    case "static": {
      if (c.initialCluster.length === 0) throw new BootstrapError("initial cluster unset and no discovery URL found");
      const members = new Map<string, string[]>();
      for (const e of c.initialCluster) members.set(e.name, [...(members.get(e.name) ?? []), urlString(e.url)]);
      for (const urls of members.values()) urls.sort();
      return { members, token: c.initialClusterToken, source };
    }
  }
}

/** URL with its host resolved: "http://127.0.0.1:2380" for "http://localhost:2380". */
async function resolvedUrl(u: string, resolver: Resolver): Promise<string> {
  const url = new URL(u);
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return `${url.protocol}//${tcpAddrString(await resolver.address(host), port)}`;
}

/**
 * VerifyBootstrap for every source: this member is in the cluster, no URL is listed twice,
 * and its --initial-advertise-peer-urls equal its entry once host names are resolved.
 */
export async function verifyInitialCluster(ic: InitialCluster, c: ServerConfig, resolver: Resolver): Promise<void> {
  // A discovery result with a duplicate URL was already refused with discovery's own text.
  verifyBootstrap(c.name, ic.members);
  const mine = ic.members.get(c.name)!;
  const ap = c.initialAdvertisePeerUrls.map((u) => urlString(u)).sort();
  const urls = [...mine].sort();
  if (ap.join(",") === urls.join(",")) return;
  let resolvedEqual = false;
  let why = "";
  try {
    const a = (await Promise.all(ap.map((u) => resolvedUrl(u, resolver)))).sort();
    const b = (await Promise.all(urls.map((u) => resolvedUrl(u, resolver)))).sort();
    resolvedEqual = a.join(",") === b.join(",");
    if (!resolvedEqual) why = `${JSON.stringify(b)}(resolved from ${JSON.stringify(urls)}) != ${JSON.stringify(a)}(resolved from ${JSON.stringify(ap)})`;
  } catch (e) {
    why = (e as Error).message;
  }
  if (resolvedEqual) return;
  const missing = urls.filter((u) => !ap.includes(u));
  if (missing.length > 0) {
    throw new BootstrapError(
      `--initial-cluster has ${missing.map((u) => `${c.name}=${u}`).join(",")} but missing from --initial-advertise-peer-urls=${ap.join(",")} (${why})`,
    );
  }
  const extra = ap.filter((u) => !urls.includes(u));
  const umap = formatUrlsMap(new Map([[c.name, ap]]));
  if (extra.length > 0) throw new BootstrapError(`--initial-advertise-peer-urls has ${extra.join(",")} but missing from --initial-cluster=${umap}`);
  throw new BootstrapError(`failed to resolve ${ap.join(",")} to match --initial-cluster=${umap} (${why})`);
}

