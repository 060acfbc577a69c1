// `conclave discovery` flags: etcd's discoveryserver flags and DISC_* variables (--addr,
// --host, --etcd, --minage, --gcfreq), plus the embedded database's --data-dir, TLS and auth
// for the --etcd store, the service's own limits and TLS to serve https. Flags win over
// variables; every value is checked (valibot) before anything starts.
import * as v from "valibot";
import { parseGoBool, parseGoDuration } from "../src/config/index.ts";

export interface DiscoveryConfig {
  readonly addr: { host: string; port: number };
  readonly host: string;
  readonly etcd: readonly string[];
  readonly etcdPrefix: string;
  readonly etcdCert: string;
  readonly etcdKey: string;
  readonly etcdCacert: string;
  readonly etcdUser: string;
  readonly etcdPassword: string;
  readonly etcdInsecureSkipTlsVerify: boolean;
  readonly minAgeMs: number;
  readonly gcFreqMs: number;
  readonly dataDir: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly newRate: number;
  readonly newBurst: number;
  readonly maxSize: number;
  readonly longPollMs: number;
}

interface FlagDef {
  readonly name: string;
  readonly short?: string;
  readonly def: string;
  readonly usage: string;
  readonly bool?: boolean;
}

export const FLAGS: readonly FlagDef[] = [
  { name: "addr", short: "a", def: ":8087", usage: "web service address" },
  { name: "host", short: "h", def: "", usage: "base of the token URLs /new answers (e.g. https://discovery.example.com); default: the scheme and Host of each request" },
  { name: "etcd", short: "e", def: "", usage: "client URLs of a Conclave or etcd cluster to keep the tokens in (comma list); default: the embedded database in --data-dir" },
  { name: "etcd-prefix", def: "/conclave-discovery", usage: "key prefix of the tokens in the --etcd cluster" },
  { name: "etcd-cert", def: "", usage: "client certificate for the --etcd cluster" },
  { name: "etcd-key", def: "", usage: "client key for the --etcd cluster" },
  { name: "etcd-cacert", def: "", usage: "CA bundle to verify the --etcd cluster" },
  { name: "etcd-user", def: "", usage: "username[:password] for the --etcd cluster" },
  { name: "etcd-password", def: "", usage: "password for the --etcd cluster (if --etcd-user has none)" },
  { name: "etcd-insecure-skip-tls-verify", def: "false", usage: "do not verify the --etcd cluster's certificates (testing only)", bool: true },
  { name: "minage", short: "m", def: "168h", usage: "tokens expire and are collected this long after creation" },
  { name: "gcfreq", short: "g", def: "5m", usage: "how often expired tokens are collected" },
  { name: "data-dir", def: "discovery.conclave", usage: "directory of the embedded database" },
  { name: "cert-file", def: "", usage: "serve https with this certificate" },
  { name: "key-file", def: "", usage: "key of --cert-file" },
  { name: "new-rate", def: "1", usage: "new tokens per second allowed per client address (0 = unlimited)" },
  { name: "new-burst", def: "20", usage: "new tokens a client address may create at once before --new-rate applies" },
  { name: "max-size", def: "100", usage: "largest cluster size /new accepts" },
  { name: "long-poll-timeout", def: "60s", usage: "a wait=true request answers empty after this long (members poll again)" },
];

export function envName(flag: string): string {
  return `DISC_${flag.toUpperCase().replace(/-/g, "_")}`;
}

export function usage(): string {
  const lines = ["Usage: conclave discovery [flags]", "", "A discovery token service for bootstrapping clusters (--discovery).", "", "Flags:"];
  for (const f of FLAGS) {
    const names = f.short ? `-${f.short}, --${f.name}` : `    --${f.name}`;
    lines.push(`  ${names} (${envName(f.name)}, default ${JSON.stringify(f.def)})`, `        ${f.usage}`);
  }
  lines.push("      --help", "        show this help");
  return `${lines.join("\n")}\n`;
}

export class FlagError extends Error {}

export type ParsedArgs = { kind: "help" } | { kind: "run"; config: DiscoveryConfig };

/** pflag-style parsing: --name=value, --name value, -a value, -a=value; bools take --name. */
export function parseDiscoveryArgs(args: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedArgs {
  const byName = new Map(FLAGS.map((f) => [f.name, f]));
  const byShort = new Map(FLAGS.filter((f) => f.short).map((f) => [f.short!, f]));
  const given = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--help" || a === "-help") return { kind: "help" };
    let def: FlagDef | undefined;
    let inline: string | undefined;
    const long = /^--([^=]+)(?:=(.*))?$/s.exec(a);
    const short = /^-([^-=])(?:=(.*))?$/s.exec(a);
    if (long) {
      def = byName.get(long[1]!);
      inline = long[2];
      if (def === undefined) throw new FlagError(`unknown flag: --${long[1]}`);
    } else if (short) {
      def = byShort.get(short[1]!);
      inline = short[2];
      if (def === undefined) throw new FlagError(`unknown shorthand flag: '${short[1]}' in ${a}`);
    } else {
      throw new FlagError(`unexpected argument ${JSON.stringify(a)}`);
    }
    if (inline === undefined) {
      if (def.bool) inline = "true";
      else {
        if (i + 1 >= args.length) throw new FlagError(`flag needs an argument: --${def.name}`);
        inline = args[++i]!;
      }
    }
    given.set(def.name, inline);
  }
  // An empty variable counts as unset.
  const value = (name: string): string => given.get(name) ?? (env[envName(name)] || undefined) ?? byName.get(name)!.def;
  return { kind: "run", config: buildConfig(value) };
}

const BareUrl = v.pipe(
  v.string(),
  v.check((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === "http:" || u.protocol === "https:") && (u.pathname === "/" || u.pathname === "") && u.search === "" && u.hash === "" && !s.endsWith("/");
    } catch {
      return false;
    }
  }, "must be a bare scheme://host[:port] URL without path, query or fragment"),
);

function duration(name: string, raw: string, minMs: number): number {
  let ns: number;
  try {
    ns = parseGoDuration(raw);
  } catch (e) {
    throw new FlagError(`invalid argument ${JSON.stringify(raw)} for "--${name}" flag: ${(e as Error).message}`);
  }
  const ms = ns / 1e6;
  if (ms < minMs) throw new FlagError(`invalid argument ${JSON.stringify(raw)} for "--${name}" flag: must be at least ${minMs}ms`);
  return ms;
}

function integer(name: string, raw: string, min: number, max: number): number {
  const r = v.safeParse(v.pipe(v.string(), v.regex(/^\d+$/), v.transform(Number), v.integer(), v.minValue(min), v.maxValue(max)), raw);
  if (!r.success) throw new FlagError(`invalid argument ${JSON.stringify(raw)} for "--${name}" flag: must be an integer from ${min} to ${max}`);
  return r.output;
}

function buildConfig(value: (name: string) => string): DiscoveryConfig {
  const addrRaw = value("addr");
  const addr = /^(\[[^\]]*\]|[^:]*):(\d{1,5})$/.exec(addrRaw);
  if (addr === null || Number(addr[2]) > 65535) throw new FlagError(`invalid argument ${JSON.stringify(addrRaw)} for "--addr" flag: want host:port or :port`);
  const host = value("host");
  if (host !== "" && !v.safeParse(BareUrl, host).success) {
    throw new FlagError(`invalid argument ${JSON.stringify(host)} for "--host" flag: must be a bare scheme://host[:port] URL without path, query or fragment`);
  }
  const etcd = value("etcd")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const e of etcd) {
    if (!v.safeParse(BareUrl, e).success) throw new FlagError(`invalid argument ${JSON.stringify(e)} for "--etcd" flag: must be a client URL like http://127.0.0.1:2379`);
  }
  let skip: boolean;
  try {
    skip = parseGoBool(value("etcd-insecure-skip-tls-verify"));
  } catch {
    throw new FlagError(`invalid argument ${JSON.stringify(value("etcd-insecure-skip-tls-verify"))} for "--etcd-insecure-skip-tls-verify" flag`);
  }
  const certFile = value("cert-file");
  const keyFile = value("key-file");
  if ((certFile === "") !== (keyFile === "")) throw new FlagError("--cert-file and --key-file go together");
  const prefix = value("etcd-prefix");
  if (!prefix.startsWith("/") || prefix.endsWith("/")) throw new FlagError(`invalid argument ${JSON.stringify(prefix)} for "--etcd-prefix" flag: must start with / and not end with /`);
  const rateRaw = value("new-rate");
  const rate = Number(rateRaw);
  if (!/^\d+(\.\d+)?$/.test(rateRaw) || !Number.isFinite(rate)) throw new FlagError(`invalid argument ${JSON.stringify(rateRaw)} for "--new-rate" flag: must be a number`);
  return {
    addr: { host: addr[1]!.replace(/^\[|\]$/g, ""), port: Number(addr[2]) },
    host,
    etcd,
    etcdPrefix: prefix,
    etcdCert: value("etcd-cert"),
    etcdKey: value("etcd-key"),
    etcdCacert: value("etcd-cacert"),
    etcdUser: value("etcd-user"),
    etcdPassword: value("etcd-password"),
    etcdInsecureSkipTlsVerify: skip,
    minAgeMs: duration("minage", value("minage"), 1000),
    gcFreqMs: duration("gcfreq", value("gcfreq"), 100),
    dataDir: value("data-dir"),
    certFile,
    keyFile,
    newRate: rate,
    newBurst: integer("new-burst", value("new-burst"), 1, 1_000_000),
    maxSize: integer("max-size", value("max-size"), 1, 1000),
    longPollMs: duration("long-poll-timeout", value("long-poll-timeout"), 10),
  };
}
