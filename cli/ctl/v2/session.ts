// From etcdctl v2's global flags to a client (ctlv2/command/util.go): endpoints from
// -D/--discovery-srv or --endpoints/--endpoint/--peers and their ETCDCTL_* variables, TLS
// files, --username, the per-request and total timeouts, --debug, and the member sync that
// replaces the endpoints with the cluster's client URLs unless --no-sync.
import { readFileSync } from "node:fs";
import { Errs, goUrlString, isConnectionError, MembersApi, parseGoUrl, V2Client, type V2Tls } from "../../../src/client/v2/index.ts";
import { errln } from "../io.ts";
import type { V2Context } from "./app.ts";
import { handleError, stop, V2Exit } from "./output.ts";
import { askPassword } from "../password.ts";

const DEFAULT_ENDPOINTS = "http://127.0.0.1:2379,http://127.0.0.1:4001";
const DEFAULT_DIAL_MS = 30_000;

export class Session {
  constructor(
    private readonly c: V2Context,
    private readonly env: Record<string, string | undefined>,
  ) {}

  get format(): string {
    return this.c.global.string("output");
  }

  /** contextWithTotalTimeout. */
  deadline(): number {
    return Date.now() + this.c.global.duration("total-timeout");
  }

  private discovery(): { domain: string; insecure: boolean; serviceName: string } {
    const g = this.c.global;
    return {
      domain: g.string("discovery-srv") || (this.env.ETCDCTL_DISCOVERY_SRV ?? ""),
      insecure: g.bool("insecure-discovery") || (this.env.ETCDCTL_INSECURE_DISCOVERY ?? "") !== "",
      serviceName: this.env.ETCDCTL_DISCOVERY_SRV_NAME ?? "",
    };
  }

  private async endpoints(): Promise<string[]> {
    const d = this.discovery();
    let eps: string[] = [];
    if (d.domain !== "") {
      const { discoverClientEndpoints } = await import("../../../src/bootstrap/index.ts");
      const r = await discoverClientEndpoints({ domain: d.domain, serviceName: d.serviceName, insecureDiscovery: true });
      eps = d.insecure
        ? r.endpoints
        : r.endpoints.filter((ep) => {
            if (!ep.startsWith("http://")) return true;
            errln(`ignoring discovered insecure endpoint ${JSON.stringify(ep)}`);
            return false;
          });
    }
    if (eps.length === 0) {
      const g = this.c.global;
      const peers =
        g.string("endpoints") || this.env.ETCDCTL_ENDPOINTS || g.string("endpoint") || this.env.ETCDCTL_ENDPOINT || g.string("peers") || this.env.ETCDCTL_PEERS || DEFAULT_ENDPOINTS;
      eps = peers.split(",");
    }
    return eps.map((ep) => {
      const u = parseGoUrl(ep);
      if (u.scheme === "") u.scheme = "http";
      return goUrlString(u);
    });
  }

  private tls(): V2Tls | undefined {
    const g = this.c.global;
    const ca = g.string("ca-file") || (this.env.ETCDCTL_CA_FILE ?? "");
    const cert = g.string("cert-file") || (this.env.ETCDCTL_CERT_FILE ?? "");
    const key = g.string("key-file") || (this.env.ETCDCTL_KEY_FILE ?? "");
    const d = this.discovery();
    const serverName = d.insecure ? "" : d.domain;
    const t: V2Tls = {};
    if (cert !== "" || key !== "") {
      if (cert === "" || key === "") throw new Error(`KeyFile and CertFile must both be present[key: ${key}, cert: ${cert}]`);
      t.cert = readTlsFile(cert);
      t.key = readTlsFile(key);
      if (!Buffer.from(t.cert).toString("latin1").includes("-----BEGIN")) throw new Error("tls: failed to find any PEM data in certificate input");
      if (!Buffer.from(t.key).toString("latin1").includes("-----BEGIN")) throw new Error("tls: failed to find any PEM data in key input");
    }
    if (ca !== "") t.ca = readTlsFile(ca);
    if (serverName !== "") t.serverName = serverName;
    return t.ca || t.cert || t.serverName ? t : undefined;
  }

  private async credentials(): Promise<{ username?: string; password?: string }> {
    const u = this.c.global.string("username") || (this.env.ETCDCTL_USERNAME ?? "");
    if (u === "") return {};
    const colon = u.indexOf(":");
    if (colon >= 0) return { username: u.slice(0, colon), password: u.slice(colon + 1) };
    return { username: u, password: await askPassword("Password: ") };
  }

  /** newClient: a configuration error ends the command with its text and exit code 1. */
  private async newClient(): Promise<V2Client> {
    try {
      const eps = await this.endpoints();
      const tls = this.tls();
      const total = this.c.global.duration("total-timeout");
      const creds = await this.credentials();
      const debug = this.c.global.bool("debug");
      return new V2Client({
        endpoints: eps,
        tls,
        ...creds,
        headerTimeoutMs: this.c.global.duration("timeout"),
        dialTimeoutMs: total !== 0 && total < DEFAULT_DIAL_MS ? total : DEFAULT_DIAL_MS,
        debug: debug ? (l) => errln(l) : undefined,
      });
    } catch (e) {
      errln((e as Error).message);
      stop(V2Exit.BadArgs);
    }
  }

  /** mustNewClient: with the member sync (unless --no-sync). */
  async client(): Promise<V2Client> {
    const hc = await this.newClient();
    const debug = this.c.global.bool("debug");
    if (!this.c.global.bool("no-sync")) {
      if (debug) errln(`start to sync cluster using endpoints(${hc.endpoints().join(",")})`);
      try {
        await sync(hc, this.deadline());
      } catch (e) {
        if ((e as Error).message === Errs.noEndpoints) {
          errln("etcd cluster has no published client endpoints.");
          errln(`Try '--no-sync' if you want to access non-published client endpoints(${hc.endpoints().join(",")}).`);
          handleError(V2Exit.ServerError, e);
        }
        if (isConnectionError(e)) handleError(V2Exit.BadConnection, e);
      }
      if (debug) errln(`got endpoints(${hc.endpoints().join(",")}) after sync`);
    }
    if (debug) errln(`Cluster-Endpoints: ${hc.endpoints().join(", ")}`);
    return hc;
  }

  /** mustNewClientNoSync. */
  async clientNoSync(): Promise<V2Client> {
    const hc = await this.newClient();
    if (this.c.global.bool("debug")) errln(`Cluster-Endpoints: ${hc.endpoints().join(", ")}`);
    return hc;
  }

  /** TLS settings for requests made outside the client (cluster-health's /health). */
  transportTls(): V2Tls | undefined {
    try {
      return this.tls();
    } catch (e) {
      handleError(V2Exit.ServerError, e);
    }
  }
}

/** httpClusterClient.Sync: the members' client URLs become the endpoints. */
async function sync(hc: V2Client, deadline: number): Promise<void> {
  const ms = await new MembersApi(hc).list(deadline);
  const eps = ms.flatMap((m) => m.clientURLs);
  if (eps.length === 0) throw new Error(Errs.noEndpoints);
  const same = [...eps].sort().join("\n") === [...hc.endpoints()].sort().join("\n");
  if (!same) hc.setEndpoints(eps);
}

function readTlsFile(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === "ENOENT" ? "no such file or directory" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : (e as Error).message;
    throw new Error(`open ${path}: ${why}`);
  }
}
