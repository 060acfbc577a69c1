// DNS SRV bootstrap, server side (--discovery-srv, --discovery-srv-name): etcd's
// srv.GetCluster and embed.GetDNSClusterNames. `_etcd-server-ssl[-sfx]._tcp.<domain>` gives
// https peers, `_etcd-server[-sfx]._tcp.<domain>` http ones; a target whose address equals
// one of this member's advertised peer URLs is this member (named --name), the others are
// named "0", "1", … Both lists are merged, as etcd 3.5+ does (3.4.x drops the http list
// whenever the https lookup fails: etcd issue 11321).
import { BootstrapError } from "./errors.ts";
import type { BootstrapLogger } from "./logger.ts";
import { type Resolver, tcpAddrString } from "./resolver.ts";

export interface SrvClusterInput {
  readonly name: string;
  /** --discovery-srv */
  readonly domain: string;
  /** --discovery-srv-name */
  readonly serviceName: string;
  /** --initial-advertise-peer-urls (Go string form). */
  readonly advertisePeerUrls: readonly string[];
  readonly resolver: Resolver;
  readonly logger: BootstrapLogger;
}

/** `host:port` of a URL, as Go's url.Host. */
function hostOf(u: string): { host: string; port: string } {
  const url = new URL(u);
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return { host: url.hostname, port };
}

/** srv.GetCluster for one record type. */
async function getCluster(scheme: "http" | "https", service: string, i: SrvClusterInput): Promise<string[]> {
  // First, resolve this member's own advertised peer URLs: one that cannot be resolved is fatal.
  const own = new Map<string, string>();
  for (const u of i.advertisePeerUrls) {
    const { host, port } = hostOf(u);
    own.set(tcpAddrString(await i.resolver.address(host), port), u);
  }
  let tempName = 0;
  const parts: string[] = [];
  let lastErr: Error | undefined;
  let records;
  try {
    records = await i.resolver.srv(service, i.domain);
  } catch (e) {
    throw new BootstrapError(`error querying DNS SRV records for _${service} ${(e as Error).message}`);
  }
  for (const srv of records) {
    const port = String(srv.port);
    let addr: string;
    try {
      addr = tcpAddrString(await i.resolver.address(srv.name), port);
    } catch (e) {
      lastErr = e as Error;
      continue;
    }
    const mine = own.get(addr);
    const name = mine !== undefined ? i.name : String(tempName++);
    // SRV targets may carry a trailing dot; a URL must not.
    const shortHost = srv.name.endsWith(".") ? srv.name.slice(0, -1) : srv.name;
    const urlHost = shortHost.includes(":") ? `[${shortHost}]:${port}` : `${shortHost}:${port}`;
    if (mine !== undefined && new URL(mine).protocol !== `${scheme}:`) {
      lastErr = new Error(`bootstrap at ${scheme}://${urlHost} from DNS for ${service} has scheme mismatch with expected peer ${mine}`);
    } else {
      parts.push(`${name}=${scheme}://${urlHost}`);
    }
  }
  if (parts.length === 0) {
    throw new BootstrapError(`error querying DNS SRV records for _${service} ${lastErr?.message ?? "no usable records"}`);
  }
  return parts;
}

export interface SrvCluster {
  /** `name=url` pairs, https records first. */
  readonly pairs: string[];
  /** Set when https peers were found: the name peer certificates are checked against without a peer CA. */
  readonly hasHttps: boolean;
}

/** GetDNSClusterNames: both record types, merged; fails only when neither gives a member. */
export async function srvClusterNames(i: SrvClusterInput): Promise<SrvCluster> {
  const suffix = i.serviceName !== "" ? `-${i.serviceName}` : "";
  const errors: string[] = [];
  let https: string[] = [];
  try {
    https = await getCluster("https", `etcd-server-ssl${suffix}`, i);
  } catch (e) {
    errors.push((e as Error).message);
  }
  i.logger.info("get cluster for etcd-server-ssl SRV", {
    "service-scheme": "https",
    "service-name": `etcd-server-ssl${suffix}`,
    "discovery-srv": i.domain,
    "found-cluster": https,
  });
  let http: string[] = [];
  try {
    http = await getCluster("http", `etcd-server${suffix}`, i);
  } catch (e) {
    errors.push((e as Error).message);
  }
  i.logger.info("get cluster for etcd-server SRV", {
    "service-scheme": "http",
    "service-name": `etcd-server${suffix}`,
    "discovery-srv": i.domain,
    "found-cluster": http,
  });
  const pairs = [...https, ...http];
  if (pairs.length === 0) throw new BootstrapError(errors.join("; "));
  if (errors.length > 0) i.logger.warn("failed to resolve during SRV discovery", { error: errors.join("; ") });
  for (const p of pairs) i.logger.info(`got bootstrap from DNS for etcd-server at ${p}`);
  return { pairs, hasHttps: https.length > 0 };
}
