// Client endpoints from DNS SRV records (etcd's srv.GetClient and etcdctl's
// --discovery-srv / --discovery-srv-name / --insecure-discovery handling), for
// `conclave ctl --discovery-srv` and any other client of this project.
//
//   const { endpoints, warnings, serverName } =
//     await discoverClientEndpoints({ domain: "example.com", serviceName: "", insecureDiscovery: true });
//   for (const w of warnings) process.stderr.write(`${w}\n`);
//   // endpoints replace --endpoints (etcdctl: only when the list is non-empty);
//   // with TLS, verify servers against `serverName` when it is set.
import { BootstrapError } from "./errors.ts";
import { type Resolver, systemResolver } from "./resolver.ts";

/** srv.GetSRVService: `etcd-client`, `etcd-client-ssl`, with `-<name>` appended when given. */
export function srvServiceName(service: string, serviceName: string, scheme: "http" | "https"): string {
  const s = scheme === "https" ? `${service}-ssl` : service;
  return serviceName !== "" ? `${s}-${serviceName}` : s;
}

export interface ClientSrvOptions {
  /** -d / --discovery-srv */
  readonly domain: string;
  /** --discovery-srv-name ("" for none) */
  readonly serviceName?: string;
  /** --insecure-discovery (etcdctl's default: true); false drops http:// endpoints. */
  readonly insecureDiscovery?: boolean;
  /** Default: the system resolver (resolv.conf). */
  readonly resolver?: Resolver;
}

export interface ClientSrvResult {
  /** `https://target.:port` first, then `http://…`; targets keep their trailing dot, as etcd's do. */
  readonly endpoints: string[];
  /** Lines etcdctl prints on stderr ("ignoring discovered insecure endpoint …"). */
  readonly warnings: string[];
  /** With --insecure-discovery=false, etcdctl checks server certificates against the domain. */
  readonly serverName?: string;
}

/**
 * srv.GetClient("etcd-client", domain, serviceName) plus etcdctl's filtering. Fails with
 * "dns lookup errors: <https error> and <http error>" only when both lookups fail.
 */
export async function discoverClientEndpoints(o: ClientSrvOptions): Promise<ClientSrvResult> {
  const resolver = o.resolver ?? systemResolver;
  const serviceName = o.serviceName ?? "";
  const endpoints: string[] = [];
  const lookup = async (scheme: "http" | "https"): Promise<Error | undefined> => {
    try {
      const recs = await resolver.srv(srvServiceName("etcd-client", serviceName, scheme), o.domain);
      for (const r of recs) {
        const target = r.name.endsWith(".") ? r.name : `${r.name}.`;
        endpoints.push(`${scheme}://${target.includes(":") ? `[${target}]` : target}:${r.port}`);
      }
      return undefined;
    } catch (e) {
      return e as Error;
    }
  };
  const errHttps = await lookup("https");
  const errHttp = await lookup("http");
  if (errHttps !== undefined && errHttp !== undefined) {
    throw new BootstrapError(`dns lookup errors: ${errHttps.message} and ${errHttp.message}`);
  }
  if (o.insecureDiscovery ?? true) return { endpoints, warnings: [] };
  const warnings: string[] = [];
  const secure = endpoints.filter((ep) => {
    if (!ep.startsWith("http://")) return true;
    warnings.push(`ignoring discovered insecure endpoint ${JSON.stringify(ep)}`);
    return false;
  });
  return { endpoints: secure, warnings, serverName: o.domain };
}
