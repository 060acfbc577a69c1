// TLS end-to-end helpers: `conclave pki` runs (always our binary: it makes the certificates for
// either target), members on https client and peer URLs, etcdctl and HTTPS requests with
// client certificates, and the zap log lines members write ("rejected connection").
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { join, resolve } from "node:path";
import { connect } from "node:tls";
import { runEtcdctl, type CtlResult } from "./etcdctl.ts";
import { FAST_RAFT_FLAGS } from "./cluster.ts";
import { LineProcess } from "./line-process.ts";
import { freePorts } from "./ports.ts";
import { memberBinary, REPO_ROOT } from "./target.ts";
import { makeTempDir, removeDir } from "./temp-dir.ts";
import { delay } from "./wait.ts";

/** The executable whose `pki` subcommand makes certificates (ours, whatever the target). */
export const PKI_BIN = process.env.CONCLAVE_BIN ?? resolve(REPO_ROOT, "dist", "conclave");

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function pki(args: string[], opts: { cwd?: string } = {}): RunResult {
  const r = spawnSync(PKI_BIN, ["pki", ...args], { encoding: "utf8", timeout: 60_000, cwd: opts.cwd });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `conclave pki`, failing with its stderr unless it exits 0; returns stdout. */
export function pkiOk(args: string[]): string {
  const r = pki(args);
  if (r.code !== 0) throw new Error(`conclave pki ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** The flags `conclave pki cluster` printed for a member, split into arguments. */
export function printedMemberFlags(stdout: string, name: string): string[] {
  const lines = stdout.split("\n");
  const i = lines.findIndex((l) => l.startsWith(`# member ${name} `));
  if (i < 0 || lines[i + 1] === undefined) throw new Error(`no flags printed for member ${name}:\n${stdout}`);
  return lines[i + 1]!.trim().split(/\s+/);
}

/** Credentials for a client connection: files as etcdctl takes them. */
export interface ClientCreds {
  cacert?: string;
  cert?: string;
  key?: string;
  insecureSkipVerify?: boolean;
  /** etcdctl --insecure-transport=false: TLS even without any file (verified against the system roots). */
  tls?: boolean;
}

export function ctlTlsFlags(c: ClientCreds): string[] {
  const f: string[] = [];
  if (c.cacert) f.push(`--cacert=${c.cacert}`);
  if (c.cert) f.push(`--cert=${c.cert}`);
  if (c.key) f.push(`--key=${c.key}`);
  // etcdctl 3.4 speaks TLS without files only with --insecure-transport=false.
  if (c.insecureSkipVerify || c.tls) f.push("--insecure-transport=false");
  if (c.insecureSkipVerify) f.push("--insecure-skip-tls-verify");
  return f;
}

/** etcdctl against https endpoints with the given credentials. */
export function tlsCtl(endpoints: string, creds: ClientCreds, args: string[], timeoutMs = 20_000): Promise<CtlResult> {
  return runEtcdctl(endpoints, ["--dial-timeout=3s", "--command-timeout=5s", ...ctlTlsFlags(creds), ...args], { timeoutMs });
}

/** GET over HTTPS with a client certificate; resolves with the status and body, rejects on a refused handshake. */
export function httpsGet(url: string, c: ClientCreds, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const q = request(
      url,
      {
        ...(c.cacert ? { ca: readFileSync(c.cacert) } : {}),
        ...(c.cert ? { cert: readFileSync(c.cert) } : {}),
        ...(c.key ? { key: readFileSync(c.key) } : {}),
        rejectUnauthorized: c.insecureSkipVerify !== true,
        agent: false,
      },
      (r) => {
        let body = "";
        r.setEncoding("utf8");
        r.on("data", (d: string) => (body += d));
        r.on("end", () => res({ status: r.statusCode ?? 0, body }));
        r.on("error", rej);
      },
    );
    const timer = setTimeout(() => q.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    q.on("close", () => clearTimeout(timer));
    q.on("error", rej);
    q.end();
  });
}

/** Lower-case hex without leading zeros: one spelling for serials from openssl, node and Go. */
export const serialHex = (s: string) => s.toLowerCase().replace(/^serial=/, "").replace(/[^0-9a-f]/g, "").replace(/^0+/, "");

/**
 * A new TLS connection: the serial (serialHex) of the certificate the server presents, and the
 * protocol and cipher agreed. Rejects when the handshake fails.
 */
export function tlsProbe(
  port: number,
  c: ClientCreds,
  opts: { ciphers?: string; maxVersion?: "TLSv1.2" | "TLSv1.3"; minVersion?: "TLSv1.2" | "TLSv1.3" } = {},
): Promise<{ serial: string; protocol: string; cipher: string }> {
  return new Promise((res, rej) => {
    const s = connect(
      {
        host: "127.0.0.1",
        port,
        rejectUnauthorized: false,
        ...(c.cert ? { cert: readFileSync(c.cert) } : {}),
        ...(c.key ? { key: readFileSync(c.key) } : {}),
        ...opts,
      },
      () => {
        const out = { serial: serialHex(s.getPeerCertificate().serialNumber), protocol: s.getProtocol() ?? "", cipher: s.getCipher().name };
        s.destroy();
        res(out);
      },
    );
    s.on("error", rej);
  });
}

/** A zap log line as a record (non-JSON lines are skipped). */
export function zapRecords(lines: readonly string[]): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const l of lines) {
    if (!l.startsWith("{")) continue;
    try {
      out.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      // a partial line
    }
  }
  return out;
}

export interface TlsMemberSpec {
  readonly name: string;
  /** TLS flags of this member (certificate files, CA, allowed CN, ...). */
  readonly flags: readonly string[];
}

/** One member of a TlsCluster: https client and peer URLs on 127.0.0.1, zap logs. */
export class TlsMember {
  proc: LineProcess | undefined;
  constructor(
    readonly name: string,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly dataDir: string,
    private readonly args: string[],
  ) {}

  get endpoint(): string {
    return `https://127.0.0.1:${this.clientPort}`;
  }
  get process(): LineProcess {
    if (this.proc === undefined) throw new Error(`member ${this.name} not started`);
    return this.proc;
  }
  spawn(): void {
    const bin = memberBinary();
    if (!existsSync(bin)) throw new Error(`member binary ${bin} does not exist (build it with npm run build)`);
    this.proc = new LineProcess(bin, this.args, { maxLines: 4000 });
  }
  records(): Array<Record<string, unknown>> {
    return this.proc ? zapRecords(this.proc.stderrLines) : [];
  }
}

/** A cluster of members speaking TLS on both ports, started together on one data root. */
export class TlsCluster {
  private constructor(
    readonly members: TlsMember[],
    private readonly root: string,
  ) {}

  static async start(specs: readonly TlsMemberSpec[], extraArgs: readonly string[] = [], peerScheme: "http" | "https" = "https"): Promise<TlsCluster> {
    const ports = await freePorts(specs.length * 2);
    const root = makeTempDir("e2e-tls");
    const token = `tls-${process.pid}-${Date.now()}`;
    const initial = specs.map((s, i) => `${s.name}=${peerScheme}://127.0.0.1:${ports[2 * i + 1]}`).join(",");
    const members = specs.map((s, i) => {
      const cp = ports[2 * i]!;
      const pp = ports[2 * i + 1]!;
      const dataDir = join(root, `${s.name}.data`);
      const args = [
        "--name", s.name, "--data-dir", dataDir,
        "--listen-client-urls", `https://127.0.0.1:${cp}`, "--advertise-client-urls", `https://127.0.0.1:${cp}`,
        "--listen-peer-urls", `${peerScheme}://127.0.0.1:${pp}`, "--initial-advertise-peer-urls", `${peerScheme}://127.0.0.1:${pp}`,
        "--initial-cluster", initial, "--initial-cluster-token", token, "--initial-cluster-state", "new",
        "--logger", "zap", ...FAST_RAFT_FLAGS, ...s.flags, ...extraArgs,
      ];
      return new TlsMember(s.name, cp, pp, dataDir, args);
    });
    const c = new TlsCluster(members, root);
    for (const m of members) m.spawn();
    return c;
  }

  member(name: string): TlsMember {
    const m = this.members.find((x) => x.name === name);
    if (m === undefined) throw new Error(`no member ${name}`);
    return m;
  }

  endpoints(names?: readonly string[]): string {
    return this.members.filter((m) => names === undefined || names.includes(m.name)).map((m) => m.endpoint).join(",");
  }

  /** Waits until each named member answers /health with {"health":"true"} over TLS. */
  async waitHealthy(names: readonly string[], creds: ClientCreds, ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    for (const name of names) {
      const m = this.member(name);
      let last = "no answer yet";
      for (;;) {
        if (m.process.hasExited) throw new Error(`member ${name} exited\n${m.process.describe()}`);
        try {
          const r = await httpsGet(`${m.endpoint}/health`, creds);
          last = `${r.status} ${r.body}`;
          if (r.status === 200 && (JSON.parse(r.body) as { health?: unknown }).health === "true") break;
        } catch (e) {
          last = String(e);
        }
        if (Date.now() > deadline) throw new Error(`member ${name} not healthy after ${ms} ms (last: ${last})\n${m.process.tail(30)}`);
        await delay(100);
      }
    }
  }

  async cleanup(): Promise<void> {
    for (const m of this.members) if (m.proc && !m.proc.hasExited) await m.proc.kill();
    removeDir(this.root);
  }
}
