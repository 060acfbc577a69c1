// Processes for the bootstrap tests: `conclave discovery` on a loopback port, and members
// started with any bootstrap flags (discovery URL, v3 discovery, DNS SRV) instead of
// --initial-cluster. Either binary can be a member: ours or Debian's etcd.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { FAST_RAFT_FLAGS, type ListedMember, parseMemberList } from "./cluster.ts";
import { Ctl } from "./etcdctl.ts";
import { LineProcess } from "./line-process.ts";
import { freePort, freePorts } from "./ports.ts";
import { REPO_ROOT } from "./target.ts";
import { delay, pollUntil } from "./wait.ts";

export const CONCLAVE_BIN = process.env.CONCLAVE_BIN ?? resolve(REPO_ROOT, "dist", "conclave");
export const ETCD_BIN = process.env.ETCD_BIN ?? "/usr/bin/etcd";

/** `conclave discovery` with its data dir; restartable on the same port and data. */
export class DiscoveryService {
  private proc: LineProcess | undefined;
  readonly history: LineProcess[] = [];

  private constructor(
    readonly port: number,
    readonly dataDir: string,
    private readonly extraArgs: string[],
    private readonly host: string,
  ) {}

  /** Starts on a free port (or `port`) and waits until /health answers. */
  static async start(dataDir: string, extraArgs: string[] = [], o: { port?: number; host?: string } = {}): Promise<DiscoveryService> {
    const port = o.port ?? (await freePort());
    const s = new DiscoveryService(port, dataDir, extraArgs, o.host ?? "127.0.0.1");
    await s.launch();
    return s;
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  get process(): LineProcess {
    if (!this.proc) throw new Error("discovery service not started");
    return this.proc;
  }

  get running(): boolean {
    return this.proc !== undefined && !this.proc.hasExited;
  }

  async launch(): Promise<void> {
    if (!existsSync(CONCLAVE_BIN)) throw new Error(`${CONCLAVE_BIN} does not exist (npm run build)`);
    this.proc = new LineProcess(
      CONCLAVE_BIN,
      ["discovery", "--addr", `${this.host}:${this.port}`, "--data-dir", this.dataDir, ...this.extraArgs],
      { maxLines: 5000 },
    );
    this.history.push(this.proc);
    await pollUntil(
      async () => {
        if (this.proc?.hasExited) throw new Error(`discovery service exited\n${this.proc.describe()}`);
        try {
          const r = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(1000) });
          return r.status === 200 ? true : undefined;
        } catch {
          return undefined;
        }
      },
      15_000,
      `discovery service on ${this.url} healthy`,
      25,
    );
  }

  /** A new token URL for a cluster of `size`. */
  async newToken(size: number): Promise<string> {
    const r = await fetch(`${this.url}/new?size=${size}`, { signal: AbortSignal.timeout(5000) });
    const text = await r.text();
    if (r.status !== 200) throw new Error(`/new?size=${size}: ${r.status} ${text}`);
    return text;
  }

  async kill(): Promise<void> {
    if (this.proc) await this.proc.kill();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.process.signal("SIGTERM");
    await this.process.exited;
  }
}

export interface BootMemberSpec {
  name: string;
  /** Flags that choose the bootstrap source, e.g. ["--discovery", url]. */
  bootstrap: string[];
  dataDir: string;
  bin?: string;
  /** Hosts of the URLs (default 127.0.0.1). */
  clientHost?: string;
  peerHost?: string;
  /** Advertised peer URL host, when it differs from the listen address (SRV by name). */
  advertisePeerHost?: string;
  /** Command prefix, e.g. ["ip", "netns", "exec", ns]. */
  wrap?: string[];
  /** Scheme of the client URLs; peer URLs use `peerScheme` (default: the same). */
  scheme?: "http" | "https";
  peerScheme?: "http" | "https";
  extraArgs?: string[];
  ports?: { client: number; peer: number };
}

/** A member started with bootstrap flags of the caller's choosing. */
export class BootMember {
  private proc: LineProcess | undefined;
  readonly clientPort: number;
  readonly peerPort: number;

  private constructor(
    readonly spec: BootMemberSpec,
    ports: { client: number; peer: number },
  ) {
    this.clientPort = ports.client;
    this.peerPort = ports.peer;
  }

  static async create(spec: BootMemberSpec): Promise<BootMember> {
    const ports: { client: number; peer: number } =
      spec.ports ?? (await freePorts(2).then(([client, peer]) => ({ client: client!, peer: peer! })));
    return new BootMember(spec, ports);
  }

  get name(): string {
    return this.spec.name;
  }
  get scheme(): string {
    return this.spec.scheme ?? "http";
  }
  get endpoint(): string {
    return `${this.spec.clientHost ?? "127.0.0.1"}:${this.clientPort}`;
  }
  get clientURL(): string {
    return `${this.scheme}://${this.endpoint}`;
  }
  get peerScheme(): string {
    return this.spec.peerScheme ?? this.scheme;
  }
  get listenPeerURL(): string {
    return `${this.peerScheme}://${this.spec.peerHost ?? "127.0.0.1"}:${this.peerPort}`;
  }
  get peerURL(): string {
    return `${this.peerScheme}://${this.spec.advertisePeerHost ?? this.spec.peerHost ?? "127.0.0.1"}:${this.peerPort}`;
  }
  get process(): LineProcess {
    if (!this.proc) throw new Error(`member ${this.name} not started`);
    return this.proc;
  }
  get running(): boolean {
    return this.proc !== undefined && !this.proc.hasExited;
  }

  flags(): string[] {
    return [
      "--name",
      this.name,
      "--data-dir",
      this.spec.dataDir,
      "--listen-client-urls",
      this.clientURL,
      "--advertise-client-urls",
      this.clientURL,
      "--listen-peer-urls",
      this.listenPeerURL,
      "--initial-advertise-peer-urls",
      this.peerURL,
      ...FAST_RAFT_FLAGS,
      ...this.spec.bootstrap,
      ...(this.spec.extraArgs ?? []),
    ];
  }

  spawn(): void {
    const bin = this.spec.bin ?? CONCLAVE_BIN;
    if (!existsSync(bin)) throw new Error(`${bin} does not exist`);
    const [cmd, ...args] = [...(this.spec.wrap ?? []), bin, ...this.flags()];
    this.proc = new LineProcess(cmd!, args, { maxLines: 3000 });
  }

  /** Waits for {"health":"true"}; `fetchHealth` lets a test reach a member in a namespace. */
  async waitHealthy(ms = 30_000, fetchHealth?: () => Promise<string>): Promise<void> {
    let last = "";
    await pollUntil(
      async () => {
        if (this.proc?.hasExited) throw new Error(`member ${this.name} exited\n${this.proc.describe()}`);
        try {
          const body = fetchHealth ? await fetchHealth() : await (await fetch(`${this.clientURL}/health`, { signal: AbortSignal.timeout(2000) })).text();
          last = body;
          return (JSON.parse(body) as { health?: string }).health === "true" ? true : undefined;
        } catch (e) {
          last = String(e);
          return undefined;
        }
      },
      ms,
      `member ${this.name} healthy (last: ${last})`,
      50,
    );
  }

  /** Waits for the process to exit; returns its code and all of its output. */
  async exit(ms = 30_000): Promise<{ code: number | null; output: string }> {
    const p = this.process;
    await Promise.race([p.exited, delay(ms).then(() => Promise.reject(new Error(`member ${this.name} still running after ${ms} ms\n${p.describe()}`)))]);
    const r = await p.exited;
    return { code: r.code, output: [...p.stdoutLines, ...p.stderrLines].join("\n") };
  }

  async kill(): Promise<void> {
    if (this.proc) await this.proc.kill();
  }

  logTail(n = 30): string {
    return this.proc ? `[${this.name}] ${this.proc.describe().split("\n").slice(-n).join("\n")}` : `[${this.name}] (not started)`;
  }
}

/** `member list` through etcdctl against one endpoint, sorted by name. */
export async function listMembers(endpoint: string): Promise<ListedMember[]> {
  const out = await new Ctl(endpoint).ok("member", "list");
  return parseMemberList(out).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * `member list` once every member has published its name and client URLs (each member
 * publishes itself through Raft after it starts, so a healthy member may still list a peer
 * without them for a moment).
 */
export async function listPublished(endpoint: string, n: number, ms = 15_000): Promise<ListedMember[]> {
  let last: ListedMember[] = [];
  return pollUntil(
    async () => {
      last = await listMembers(endpoint);
      return last.length === n && last.every((m) => m.name !== "" && m.clientURLs !== "") ? last : undefined;
    },
    ms,
    `${n} published members listed by ${endpoint} (last: ${JSON.stringify(last.map((m) => [m.name, m.clientURLs]))})`,
    100,
  );
}

/** Starts members together (a new cluster's members wait for each other) and waits for health. */
export async function startTogether(ms: BootMember[], healthMs = 30_000): Promise<void> {
  for (const m of ms) m.spawn();
  try {
    await Promise.all(ms.map((m) => m.waitHealthy(healthMs)));
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${ms.map((m) => m.logTail(15)).join("\n")}`);
  }
}

export function dataDirIn(root: string, name: string): string {
  return join(root, `${name}.data`);
}
