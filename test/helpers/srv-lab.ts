// A network namespace with its own DNS for SRV bootstrap tests (needs root, `ip`, dnsmasq).
//
//   root namespace  10.R.0.1/24  <-- veth -->  namespace  10.R.0.2 … 10.R.0.(n+1)/24, lo
//
// dnsmasq runs inside the namespace on 127.0.0.1:53 and answers for one test domain only
// (A records of the member host names, the SRV records given). `ip netns exec` bind-mounts
// /etc/netns/<ns>/resolv.conf over /etc/resolv.conf, so every process run through `wrap`
// (our member, Debian's etcd, a script) resolves through it with the system resolver, as in
// production. The test process itself stays in the root namespace and reaches the members
// at their 10.R.0.x addresses.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { LineProcess } from "./line-process.ts";
import { pollUntil } from "./wait.ts";

function ip(args: string[]): void {
  const r = spawnSync("ip", args, { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}${r.error ?? ""}`);
}

export interface SrvRecordSpec {
  /** e.g. "_etcd-server._tcp.conclave.test" */
  readonly name: string;
  readonly target: string;
  readonly port: number;
  readonly priority?: number;
  readonly weight?: number;
}

export class SrvLab {
  private dns: LineProcess | undefined;
  readonly rootAddress: string;
  /** Addresses inside the namespace, one per host. */
  readonly addresses: string[];

  private constructor(
    readonly ns: string,
    private readonly rootLink: string,
    readonly subnet: number,
    hosts: number,
  ) {
    this.rootAddress = `10.${subnet}.0.1`;
    this.addresses = Array.from({ length: hosts }, (_, i) => `10.${subnet}.0.${i + 2}`);
  }

  /** Whether this machine can build the lab: root, `ip` and dnsmasq. */
  static available(): string | undefined {
    if (process.platform !== "linux" || process.getuid?.() !== 0) return "needs root on Linux";
    if (spawnSync("dnsmasq", ["--version"]).status !== 0) return "needs dnsmasq (apt-get install dnsmasq)";
    return undefined;
  }

  static create(hosts: number): SrvLab {
    const tag = `cs${randomBytes(3).toString("hex")}`;
    const lab = new SrvLab(tag, `${tag}r`, 100 + Math.floor(Math.random() * 150), hosts);
    try {
      ip(["netns", "add", tag]);
      ip(["-n", tag, "link", "set", "lo", "up"]);
      ip(["link", "add", lab.rootLink, "type", "veth", "peer", "name", "eth0", "netns", tag]);
      ip(["addr", "add", `${lab.rootAddress}/24`, "dev", lab.rootLink]);
      ip(["link", "set", lab.rootLink, "up"]);
      for (const a of lab.addresses) ip(["-n", tag, "addr", "add", `${a}/24`, "dev", "eth0"]);
      ip(["-n", tag, "link", "set", "eth0", "up"]);
      mkdirSync(`/etc/netns/${tag}`, { recursive: true });
      writeFileSync(`/etc/netns/${tag}/resolv.conf`, "nameserver 127.0.0.1\noptions timeout:1 attempts:2\n");
    } catch (e) {
      lab.cleanup();
      throw e;
    }
    return lab;
  }

  /** Command prefix that runs a process inside the namespace. */
  get wrap(): string[] {
    return ["ip", "netns", "exec", this.ns];
  }

  /** (Re)starts dnsmasq with these A and SRV records for `domain`; waits until it answers. */
  async serve(domain: string, hostRecords: Record<string, string>, srv: readonly SrvRecordSpec[]): Promise<void> {
    await this.stopDns();
    const args = [
      ...this.wrap.slice(1),
      "dnsmasq",
      "--keep-in-foreground",
      "--no-resolv",
      "--no-hosts",
      "--conf-file=/dev/null",
      "--listen-address=127.0.0.1",
      "--bind-interfaces",
      "--port=53",
      "--pid-file=",
      "--user=root",
      "--log-facility=-",
      `--local=/${domain}/`,
      ...Object.entries(hostRecords).map(([h, a]) => `--host-record=${h},${a}`),
      ...srv.map((r) => `--srv-host=${r.name},${r.target},${r.port},${r.priority ?? 0},${r.weight ?? 0}`),
    ];
    this.dns = new LineProcess("ip", args, { maxLines: 500 });
    const probe = Object.keys(hostRecords)[0]!;
    await pollUntil(
      () => {
        if (this.dns?.hasExited) throw new Error(`dnsmasq exited\n${this.dns.describe()}`);
        const r = spawnSync("ip", ["netns", "exec", this.ns, "getent", "hosts", probe], { encoding: "utf8", timeout: 5000 });
        return r.status === 0 ? true : undefined;
      },
      10_000,
      `dnsmasq in ${this.ns} answering for ${probe}`,
      50,
    );
  }

  private async stopDns(): Promise<void> {
    if (this.dns && !this.dns.hasExited) await this.dns.kill();
    this.dns = undefined;
  }

  /** Kills dnsmasq, removes the namespace, its link and its resolv.conf. Idempotent. */
  cleanup(): void {
    if (this.dns && !this.dns.hasExited) this.dns.signal("SIGKILL");
    spawnSync("ip", ["link", "del", this.rootLink]);
    spawnSync("ip", ["netns", "del", this.ns]);
    rmSync(`/etc/netns/${this.ns}`, { recursive: true, force: true });
  }
}

/**
 * A CA and one key + certificate per host (SANs: the host name unless `domainOnly`, `domain`,
 * the IP), by openssl.
 */
export function makeCertificates(
  dir: string,
  domain: string,
  hosts: { name: string; ip: string }[],
  domainOnly = false,
): { ca: string; cert: (h: string) => string; key: (h: string) => string } {
  mkdirSync(dir, { recursive: true });
  const run = (args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8", timeout: 30_000 });
    if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
  };
  run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test ca"]);
  for (const h of hosts) {
    writeFileSync(
      `${dir}/${h.name}.ext`,
      `subjectAltName=${domainOnly ? "" : `DNS:${h.name},`}DNS:${domain},IP:${h.ip}\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n`,
    );
    run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${h.name}-key.pem`, "-out", `${h.name}.csr`, "-subj", `/CN=${h.name}`]);
    run(["x509", "-req", "-in", `${h.name}.csr`, "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-out", `${h.name}.pem`, "-days", "2", "-extfile", `${h.name}.ext`]);
  }
  return { ca: `${dir}/ca.pem`, cert: (h) => `${dir}/${h}.pem`, key: (h) => `${dir}/${h}-key.pem` };
}
