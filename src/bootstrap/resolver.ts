// DNS as the bootstrap layer uses it: SRV records and "resolve a host:port to one TCP
// address" (Go's net.ResolveTCPAddr), over node:dns, i.e. the system's resolv.conf and hosts.
import { lookup, resolveSrv } from "node:dns/promises";
import { isIP } from "node:net";

export interface SrvRecord {
  /** Target host as the resolver returns it (no trailing dot). */
  readonly name: string;
  readonly port: number;
  readonly priority: number;
  readonly weight: number;
}

export interface Resolver {
  /** Records of `_service._tcp.domain`, ordered by priority (resolver order within one). */
  srv(service: string, domain: string): Promise<SrvRecord[]>;
  /** The first address of `host` (IPv4 preferred, as Go's ResolveTCPAddr picks). */
  address(host: string): Promise<string>;
}

/** Go's text for a failed lookup, e.g. "lookup _etcd-server._tcp.example.com: no such host". */
function lookupError(name: string, e: unknown): Error {
  const code = (e as { code?: string }).code;
  const why = code === "ENOTFOUND" || code === "ENODATA" || code === "NXDOMAIN" ? "no such host" : ((e as Error).message ?? String(e));
  return new Error(`lookup ${name}: ${why}`);
}

export const systemResolver: Resolver = {
  async srv(service, domain) {
    const name = `_${service}._tcp.${domain}`;
    let recs: SrvRecord[];
    try {
      recs = await resolveSrv(name);
    } catch (e) {
      throw lookupError(name, e);
    }
    return [...recs].map((r, i) => ({ r, i })).sort((a, b) => a.r.priority - b.r.priority || a.i - b.i).map((x) => x.r);
  },
  async address(host) {
    const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
    if (isIP(bare) !== 0) return bare;
    let all: { address: string; family: number }[];
    try {
      all = await lookup(bare, { all: true });
    } catch (e) {
      throw lookupError(bare, e);
    }
    const v4 = all.find((a) => a.family === 4);
    const first = v4 ?? all[0];
    if (first === undefined) throw lookupError(bare, new Error("no such host"));
    return first.address;
  },
};

/** "ip:port" as Go prints a TCPAddr ("[::1]:2380" for IPv6). */
export function tcpAddrString(ip: string, port: string | number): string {
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}
