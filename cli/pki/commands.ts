// The certificate-making commands of `conclave pki`: ca, server / peer / client, cluster, crl.
// Each checks all its flags first, makes everything in memory, then writes the files in one
// step (files.ts), and prints what it wrote.
import { join, resolve } from "node:path";
import * as v from "valibot";
import {
  certificatePem, importPrivateKey, issueCertificate, keyMatchesCertificate, type KeySpec, makeCrl, parseCertificate,
  privateKeyPem, type Profile, type San, type SigningKey, generateKey, x509,
} from "../../src/tls/x509.ts";
import {
  check, CommonNameSchema, DurationSchema, KEY_OPTIONS, NameSchema, parseFlags, parseHosts, parseKeySpec, parseMember, PkiError, UsageError,
} from "./args.ts";
import { type OutputFile, readInput, writeOutputs } from "./files.ts";

export interface Io {
  readonly out: (text: string) => void;
  readonly now: () => Date;
}

/** cfssl backdates certificates by five minutes so a peer whose clock is slightly behind accepts them. */
const BACKDATE_MS = 5 * 60_000;

interface Issuer {
  readonly cert: x509.X509Certificate;
  readonly key: SigningKey;
}

async function makeKeyAndCert(p: {
  profile: Profile; cn: string; hosts: readonly San[]; spec: KeySpec; issuer?: Issuer; now: Date; validityMs: number;
}): Promise<{ cert: x509.X509Certificate; key: SigningKey }> {
  const key = await generateKey(p.spec);
  const cert = await issueCertificate({
    profile: p.profile,
    commonName: p.cn,
    hosts: p.hosts,
    key,
    ...(p.issuer ? { issuer: p.issuer } : {}),
    notBefore: new Date(p.now.getTime() - BACKDATE_MS),
    notAfter: new Date(p.now.getTime() + p.validityMs),
  });
  return { cert, key };
}

async function pair(dir: string, stem: string, made: { cert: x509.X509Certificate; key: SigningKey }): Promise<OutputFile[]> {
  return [
    { path: join(dir, `${stem}.pem`), content: certificatePem(made.cert), secret: false },
    { path: join(dir, `${stem}-key.pem`), content: await privateKeyPem(made.key), secret: true },
  ];
}

/** Loads the CA certificate and key and checks that they belong together. */
async function loadIssuer(caFile: string, caKeyFile: string): Promise<Issuer> {
  let cert: x509.X509Certificate;
  try {
    cert = parseCertificate(readInput(caFile, "CA certificate"));
  } catch (e) {
    if (e instanceof PkiError) throw e;
    throw new PkiError(`cannot read CA certificate ${caFile}: not a PEM certificate`);
  }
  let key: SigningKey;
  try {
    key = await importPrivateKey(readInput(caKeyFile, "CA key"));
  } catch (e) {
    if (e instanceof PkiError) throw e;
    throw new PkiError(`cannot read CA key ${caKeyFile}: ${(e as Error).message}`);
  }
  if (!(await keyMatchesCertificate(key, cert))) throw new PkiError(`CA key ${caKeyFile} does not belong to CA certificate ${caFile}`);
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (bc === null || !bc.ca) throw new PkiError(`${caFile} is not a CA certificate`);
  return { cert, key };
}

function wrote(io: Io, files: readonly OutputFile[]): void {
  for (const f of files) io.out(`wrote ${f.path}${f.secret ? " (mode 0600)" : ""}\n`);
}

export async function caCommand(args: string[], io: Io): Promise<number> {
  const { values: o } = parseFlags("ca", args, {
    dir: { type: "string", default: "." },
    cn: { type: "string", default: "conclave-ca" },
    expiry: { type: "string", default: "43800h" },
    ...KEY_OPTIONS,
  });
  const cn = check(CommonNameSchema, o.cn);
  const validityMs = check(DurationSchema, o.expiry);
  const spec = parseKeySpec(o["key-algo"], o["key-size"]);
  const made = await makeKeyAndCert({ profile: "ca", cn, hosts: [], spec, now: io.now(), validityMs });
  const files = await pair(o.dir, "ca", made);
  writeOutputs(files, o.force);
  wrote(io, files);
  return 0;
}

export async function leafCommand(kind: "server" | "peer" | "client", args: string[], io: Io): Promise<number> {
  const { values: o } = parseFlags(kind, args, {
    dir: { type: "string", default: "." },
    cn: { type: "string" },
    hosts: { type: "string", multiple: true },
    name: { type: "string", default: kind },
    ca: { type: "string" },
    "ca-key": { type: "string" },
    expiry: { type: "string", default: "8760h" },
    ...KEY_OPTIONS,
  });
  const hosts = parseHosts(o.hosts);
  if (kind !== "client" && hosts.length === 0) throw new UsageError(`--hosts is required: a ${kind} certificate names the addresses it is reached at`);
  if (kind === "client" && o.cn === undefined) throw new UsageError("--cn is required: a client certificate's CN is the user name");
  const cn = check(CommonNameSchema, o.cn ?? hosts[0]!.value);
  const stem = check(NameSchema("--name"), o.name);
  const validityMs = check(DurationSchema, o.expiry);
  const spec = parseKeySpec(o["key-algo"], o["key-size"]);
  const issuer = await loadIssuer(o.ca ?? join(o.dir, "ca.pem"), o["ca-key"] ?? join(o.dir, "ca-key.pem"));
  const made = await makeKeyAndCert({ profile: kind, cn, hosts, spec, issuer, now: io.now(), validityMs });
  const files = await pair(o.dir, stem, made);
  writeOutputs(files, o.force);
  wrote(io, files);
  return 0;
}

/** Quotes a path for a POSIX shell when it needs it. */
const sh = (s: string) => (/^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);

export async function clusterCommand(args: string[], io: Io): Promise<number> {
  const { values: o } = parseFlags("cluster", args, {
    dir: { type: "string" },
    member: { type: "string", multiple: true },
    client: { type: "string", multiple: true },
    expiry: { type: "string", default: "8760h" },
    "ca-expiry": { type: "string", default: "43800h" },
    ...KEY_OPTIONS,
  });
  if (o.dir === undefined || o.dir === "") throw new UsageError("--dir is required");
  const members = (o.member ?? []).map(parseMember);
  if (members.length === 0) throw new UsageError("at least one --member NAME=HOST[,HOST...] is required");
  for (const m of members) {
    if (members.filter((x) => x.name === m.name).length > 1) throw new UsageError(`member ${m.name} is given twice`);
  }
  const clients = o.client ?? ["root"];
  for (const c of clients) check(NameSchema("client user"), c);
  if (new Set(clients).size !== clients.length) throw new UsageError("a --client user is given twice");
  const validityMs = check(DurationSchema, o.expiry);
  const caValidityMs = check(DurationSchema, o["ca-expiry"]);
  const spec = parseKeySpec(o["key-algo"], o["key-size"]);
  const now = io.now();
  const dir = resolve(o.dir);

  const ca = await makeKeyAndCert({ profile: "ca", cn: "conclave-ca", hosts: [], spec, now, validityMs: caValidityMs });
  const files: OutputFile[] = await pair(dir, "ca", ca);
  for (const m of members) {
    const server = await makeKeyAndCert({ profile: "server", cn: m.name, hosts: m.hosts, spec, issuer: ca, now, validityMs });
    const peer = await makeKeyAndCert({ profile: "peer", cn: m.name, hosts: m.hosts, spec, issuer: ca, now, validityMs });
    files.push(...(await pair(join(dir, m.name), "server", server)), ...(await pair(join(dir, m.name), "peer", peer)));
  }
  for (const user of clients) {
    const c = await makeKeyAndCert({ profile: "client", cn: user, hosts: [], spec, issuer: ca, now, validityMs });
    files.push(...(await pair(dir, `client-${user}`, c)));
  }
  writeOutputs(files, o.force);

  const caFile = join(dir, "ca.pem");
  io.out(`wrote ${files.length} files under ${dir} (keys with mode 0600)\n`);
  for (const m of members) {
    const md = join(dir, m.name);
    io.out(`\n# member ${m.name} (SANs: ${m.hosts.map((h) => h.value).join(", ")})\n`);
    io.out(
      [
        `--cert-file=${sh(join(md, "server.pem"))}`,
        `--key-file=${sh(join(md, "server-key.pem"))}`,
        `--trusted-ca-file=${sh(caFile)}`,
        "--client-cert-auth",
        `--peer-cert-file=${sh(join(md, "peer.pem"))}`,
        `--peer-key-file=${sh(join(md, "peer-key.pem"))}`,
        `--peer-trusted-ca-file=${sh(caFile)}`,
        "--peer-client-cert-auth",
      ].join(" ") + "\n",
    );
  }
  for (const user of clients) {
    io.out(`\n# etcdctl as ${user}\n`);
    io.out(`--cacert=${sh(caFile)} --cert=${sh(join(dir, `client-${user}.pem`))} --key=${sh(join(dir, `client-${user}-key.pem`))}\n`);
  }
  return 0;
}

export async function crlCommand(args: string[], io: Io): Promise<number> {
  const { values: o } = parseFlags("crl", args, {
    dir: { type: "string", default: "." },
    revoke: { type: "string", multiple: true },
    serial: { type: "string", multiple: true },
    ca: { type: "string" },
    "ca-key": { type: "string" },
    out: { type: "string" },
    expiry: { type: "string", default: "168h" },
    force: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  const validityMs = check(DurationSchema, o.expiry);
  const serials = (o.serial ?? []).map((s) =>
    check(v.pipe(v.string(), v.regex(/^(0x)?[0-9A-Fa-f:]{1,60}$/, `invalid serial "${s}" (hex)`), v.transform((x) => x.replace(/^0x|:/g, ""))), s),
  );
  const revokeFiles = o.revoke ?? [];
  const issuer = await loadIssuer(o.ca ?? join(o.dir, "ca.pem"), o["ca-key"] ?? join(o.dir, "ca-key.pem"));
  for (const f of revokeFiles) {
    let cert: x509.X509Certificate;
    try {
      cert = parseCertificate(readInput(f, "certificate"));
    } catch (e) {
      if (e instanceof PkiError) throw e;
      throw new PkiError(`cannot read certificate ${f}: not a PEM certificate`);
    }
    if (cert.issuer !== issuer.cert.subject) throw new PkiError(`${f} was not issued by this CA (issuer ${cert.issuer})`);
    serials.push(cert.serialNumber);
  }
  const now = io.now();
  const pem = await makeCrl(issuer, serials, now, new Date(now.getTime() + validityMs));
  const out = o.out ?? join(o.dir, "crl.pem");
  writeOutputs([{ path: out, content: pem, secret: false }], o.force);
  io.out(`wrote ${out} (${serials.length} revoked)\n`);
  return 0;
}
