// etcdctl's global flags and what they turn into: the display, the client (endpoints, TLS,
// credentials, timeouts) and the command deadline.
import { readFileSync } from "node:fs";
import { Client, ClientError, type TlsSettings } from "../../src/client/index.ts";
import { Errors } from "../../src/rpctypes/index.ts";
import { Exit, fail } from "./exit.ts";
import type { FlagDef, FlagSet } from "./flags.ts";
import { errln } from "./io.ts";
import { Display } from "./printer.ts";

export const GLOBAL_FLAGS: FlagDef[] = [
  { name: "endpoints", type: "stringSlice", def: "[127.0.0.1:2379]", usage: "gRPC endpoints" },
  { name: "debug", type: "bool", def: "false", usage: "enable client-side debug logging" },
  { name: "write-out", short: "w", type: "string", def: "simple", usage: "set the output format (fields, json, protobuf, simple, table)" },
  { name: "hex", type: "bool", def: "false", usage: "print byte strings as hex encoded strings" },
  { name: "dial-timeout", type: "duration", def: "2s", usage: "dial timeout for client connections" },
  { name: "command-timeout", type: "duration", def: "5s", usage: "timeout for short running command (excluding dial timeout)" },
  { name: "keepalive-time", type: "duration", def: "2s", usage: "keepalive time for client connections" },
  { name: "keepalive-timeout", type: "duration", def: "6s", usage: "keepalive timeout for client connections" },
  { name: "insecure-transport", type: "bool", def: "true", usage: "disable transport security for client connections" },
  { name: "insecure-discovery", type: "bool", def: "true", usage: "accept insecure SRV records describing cluster endpoints" },
  { name: "insecure-skip-tls-verify", type: "bool", def: "false", usage: "skip server certificate verification (CAUTION: this option should be enabled only for testing purposes)" },
  { name: "cert", type: "string", def: "", usage: "identify secure client using this TLS certificate file" },
  { name: "key", type: "string", def: "", usage: "identify secure client using this TLS key file" },
  { name: "cacert", type: "string", def: "", usage: "verify certificates of TLS-enabled secure servers using this CA bundle" },
  { name: "user", type: "string", def: "", usage: "username[:password] for authentication (prompt if password is not supplied)" },
  { name: "password", type: "string", def: "", usage: "password for authentication (if this option is used, --user option shouldn't include password)" },
  { name: "discovery-srv", short: "d", type: "string", def: "", usage: "domain name to query for SRV records describing cluster endpoints" },
  { name: "discovery-srv-name", type: "string", def: "", usage: "service name to query when using DNS discovery" },
];

function readPem(path: string, what: "cert" | "key" | "ca"): Buffer {
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === "ENOENT" ? "no such file or directory" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : (e as Error).message;
    fail(Exit.BadArgs, `open ${path}: ${why}`);
  }
  if (what !== "ca" && !b.toString("latin1").includes("-----BEGIN")) {
    fail(Exit.BadArgs, `tls: failed to find any PEM data in ${what === "cert" ? "certificate" : "key"} input`);
  }
  return b;
}

/** etcdctl's newClientCfg: TLS when any file or a server name is given, or transport security is asked for. */
export function tlsSettings(o: { cert: string; key: string; cacert: string; serverName?: string; insecureTransport: boolean; insecureSkipVerify?: boolean }): TlsSettings | undefined {
  let t: TlsSettings | undefined;
  if (o.cert !== "" || o.key !== "" || o.cacert !== "") {
    t = { insecureSkipVerify: false };
    if (o.cert !== "") t.cert = readPem(o.cert, "cert");
    if (o.key !== "") t.key = readPem(o.key, "key");
    if (o.cacert !== "") t.ca = readPem(o.cacert, "ca");
    if ((o.cert === "") !== (o.key === "")) fail(Exit.BadArgs, "tls: neither certificate nor key can be empty");
  }
  if (o.serverName) {
    t ??= { insecureSkipVerify: false };
    t.serverName = o.serverName;
  }
  if (t === undefined && !o.insecureTransport) t = { insecureSkipVerify: false };
  if (t !== undefined && o.insecureSkipVerify) t.insecureSkipVerify = true;
  return t;
}

export class Globals {
  private displayCache: Display | undefined;
  /** Every client created, closed when the command ends. */
  readonly clients: Client[] = [];

  constructor(readonly fs: FlagSet) {}

  display(): Display {
    if (this.displayCache) return this.displayCache;
    const d = Display.parse(this.fs.string("write-out"), this.fs.bool("hex"));
    if (d === undefined) fail(Exit.BadFeature, "unsupported output format");
    this.displayCache = d;
    return d;
  }

  private discovered: string[] | undefined;

  /**
   * etcdctl's endpointsFromCmd: with -d/--discovery-srv, the _etcd-client[-ssl][-<name>]._tcp
   * records of the domain (http ones dropped, with a line on stderr, under
   * --insecure-discovery=false); --endpoints when that finds none or no domain is given.
   */
  async endpoints(): Promise<string[]> {
    const domain = this.fs.string("discovery-srv");
    if (domain !== "" && this.discovered === undefined) {
      const { discoverClientEndpoints } = await import("../../src/bootstrap/index.ts");
      try {
        const r = await discoverClientEndpoints({ domain, serviceName: this.fs.string("discovery-srv-name"), insecureDiscovery: this.fs.bool("insecure-discovery") });
        for (const w of r.warnings) errln(w);
        this.discovered = r.endpoints;
      } catch (e) {
        fail(Exit.Error, (e as Error).message, `no SRV records _etcd-client._tcp.${domain} or _etcd-client-ssl._tcp.${domain} could be read: check the domain and the DNS server, or list the members with --endpoints`);
      }
    }
    if (this.discovered !== undefined && this.discovered.length > 0) return this.discovered;
    return this.fs.strings("endpoints").map((e) => e.trim());
  }

  commandTimeoutMs(): number {
    return this.fs.duration("command-timeout");
  }

  deadline(): number {
    return Date.now() + this.commandTimeoutMs();
  }

  tls(): TlsSettings | undefined {
    const fs = this.fs;
    for (const f of ["cert", "key", "cacert"]) {
      if (fs.changed.has(f) && fs.string(f) === "") fail(Exit.BadArgs, `empty string is passed to --${f} option`);
    }
    // --insecure-discovery=false: servers found through SRV are checked against the domain.
    const domain = fs.bool("insecure-discovery") ? "" : fs.string("discovery-srv");
    return tlsSettings({
      cert: fs.string("cert"),
      key: fs.string("key"),
      cacert: fs.string("cacert"),
      serverName: domain,
      insecureTransport: fs.bool("insecure-transport"),
      insecureSkipVerify: fs.bool("insecure-skip-tls-verify"),
    });
  }

  async credentials(): Promise<{ username: string; password: string } | undefined> {
    const user = this.fs.string("user");
    const pw = this.fs.string("password");
    if (user === "") return undefined;
    if (pw !== "") return { username: user, password: pw };
    const i = user.indexOf(":");
    if (i < 0) {
      const { askPassword } = await import("./password.ts");
      return { username: user, password: await askPassword("Password: ") };
    }
    return { username: user.slice(0, i), password: user.slice(i + 1) };
  }

  /** clientv3.New: exits 2 when the client cannot be created (bad credentials, no endpoint). */
  async client(endpoints?: string[], withAuth = true, tls: TlsSettings | undefined = this.tls()): Promise<Client> {
    endpoints ??= await this.endpoints();
    this.display();
    const creds = withAuth ? await this.credentials() : undefined;
    const c = new Client({
      endpoints,
      dialTimeoutMs: this.fs.duration("dial-timeout"),
      keepAliveTimeMs: this.fs.duration("keepalive-time"),
      keepAliveTimeoutMs: this.fs.duration("keepalive-timeout"),
      tls,
      username: creds?.username,
      password: creds?.password,
    });
    this.clients.push(c);
    try {
      await c.open();
    } catch (e) {
      c.close();
      if (e instanceof ClientError) fail(Exit.BadConnection, e.text, hintFor(e, this));
      throw e;
    }
    return c;
  }
}

/** A sentence naming the likely cause and the fix, for people (printed only on a terminal). */
export function hintFor(e: unknown, g: Globals): string | undefined {
  if (!(e instanceof ClientError)) return undefined;
  const eps = g.fs.strings("endpoints").join(",");
  const tls = g.tls() !== undefined;
  const dial = e.message;
  if (e.kind === "context" && e.message === "context deadline exceeded") {
    return tls
      ? `no endpoint of ${eps} answered over TLS in time: check the address, and that the member serves TLS (--cert-file/--key-file) and trusts your --cacert`
      : `no endpoint of ${eps} answered in time: check that a member listens there; if it serves TLS, pass --cacert (and --cert/--key) or use https://`;
  }
  if (/connection refused/.test(dial)) return `nothing listens at ${eps}: start the member or fix --endpoints`;
  if (/authentication handshake failed/.test(dial)) return "the TLS handshake failed: check --cacert matches the member's CA, or that the member serves TLS at all";
  if (e.is(Errors.userEmpty)) return "authentication is enabled on this cluster: pass --user name:password";
  if (e.is(Errors.authFailed)) return "check the user name and password given with --user/--password";
  if (e.is(Errors.permissionDenied)) return "the user lacks a role granting this key range: see `role get` and `user get`";
  if (e.is(Errors.noLeader)) return "the cluster has no leader: a majority of members must be running and reach each other";
  if (e.is(Errors.notSupportedForLearner)) return "this endpoint is a learner: use --consistency=s for reads, or point --endpoints at a voting member";
  if (e.is(Errors.compacted)) return "that revision is older than the last compaction: use a newer --rev";
  if (e.is(Errors.noSpace)) return "the member is over its quota: compact, defrag, then `alarm disarm`";
  return undefined;
}
