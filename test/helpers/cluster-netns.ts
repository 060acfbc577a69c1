// Real network partitions between members, built from Linux network namespaces (needs root and
// `ip`). Each member runs in its own namespace with two links to the root namespace:
//
//   peer link:   ns veth 10.R.1.(i+1)/24  <->  root veth attached to a bridge shared by all members
//   client link: ns veth 10.R.(i+2).2/24  <->  root veth 10.R.(i+2).1/24 (tests and etcdctl use it)
//
// Cutting a member = setting the root end of its peer link down: Raft traffic to and from it
// stops in both directions, while clients still reach it (so a minority can be asked questions).
// R is random per lab; names carry a random tag so concurrent labs never collide.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { MemberAddress } from "./cluster.ts";

function ip(args: string[]): { ok: boolean; err: string } {
  const r = spawnSync("ip", args, { encoding: "utf8", timeout: 10_000 });
  return { ok: r.status === 0, err: `${r.stderr ?? ""}${r.error ? String(r.error) : ""}`.trim() };
}

function must(args: string[]): void {
  const r = ip(args);
  if (!r.ok) throw new Error(`ip ${args.join(" ")}: ${r.err}`);
}

/**
 * Whether namespaces, veth pairs and bridges can be created here (root with CAP_NET_ADMIN
 * and CAP_SYS_ADMIN). E2E_PARTITION=sigstop forces the fallback.
 */
export function netnsAvailable(): boolean {
  if (process.env.E2E_PARTITION === "sigstop") return false;
  if (process.platform !== "linux" || process.getuid?.() !== 0) return false;
  const tag = `cnp${randomBytes(3).toString("hex")}`;
  try {
    if (!ip(["netns", "add", tag]).ok) return false;
    const exec = spawnSync("ip", ["netns", "exec", tag, "ip", "link", "set", "lo", "up"], { timeout: 10_000 });
    if (exec.status !== 0) return false;
    if (!ip(["link", "add", `${tag}b`, "type", "bridge"]).ok) return false;
    ip(["link", "del", `${tag}b`]);
    if (!ip(["link", "add", `${tag}a`, "type", "veth", "peer", "name", `${tag}z`]).ok) return false;
    ip(["link", "del", `${tag}a`]);
    return true;
  } finally {
    ip(["netns", "del", tag]);
  }
}

export class NetnsLab {
  private readonly namespaces: string[] = [];
  private readonly rootLinks: string[] = [];
  private bridge: string | undefined;
  readonly addresses: MemberAddress[] = [];

  private constructor(
    private readonly tag: string,
    private readonly subnet: number,
  ) {}

  /** Builds `size` namespaces wired as described above. Cleans up after itself on failure. */
  static create(size: number): NetnsLab {
    if (size > 200) throw new Error("too many members for one lab");
    const lab = new NetnsLab(`cn${randomBytes(3).toString("hex")}`, 100 + Math.floor(Math.random() * 150));
    try {
      lab.build(size);
    } catch (e) {
      lab.cleanup();
      throw e;
    }
    return lab;
  }

  private build(size: number): void {
    const R = this.subnet;
    this.bridge = `${this.tag}br`;
    must(["link", "add", this.bridge, "type", "bridge"]);
    must(["link", "set", this.bridge, "up"]);
    for (let i = 0; i < size; i++) {
      const ns = `${this.tag}-${i}`;
      must(["netns", "add", ns]);
      this.namespaces.push(ns);
      must(["-n", ns, "link", "set", "lo", "up"]);
      // Peer link onto the bridge.
      const pRoot = `${this.tag}p${i}`;
      must(["link", "add", pRoot, "type", "veth", "peer", "name", "peer0", "netns", ns]);
      this.rootLinks.push(pRoot);
      must(["link", "set", pRoot, "master", this.bridge]);
      must(["link", "set", pRoot, "up"]);
      must(["-n", ns, "addr", "add", `10.${R}.1.${i + 1}/24`, "dev", "peer0"]);
      must(["-n", ns, "link", "set", "peer0", "up"]);
      // Client link straight to the root namespace.
      const cRoot = `${this.tag}c${i}`;
      must(["link", "add", cRoot, "type", "veth", "peer", "name", "client0", "netns", ns]);
      this.rootLinks.push(cRoot);
      must(["addr", "add", `10.${R}.${i + 2}.1/24`, "dev", cRoot]);
      must(["link", "set", cRoot, "up"]);
      must(["-n", ns, "addr", "add", `10.${R}.${i + 2}.2/24`, "dev", "client0"]);
      must(["-n", ns, "link", "set", "client0", "up"]);
      this.addresses.push({
        clientHost: `10.${R}.${i + 2}.2`,
        peerHost: `10.${R}.1.${i + 1}`,
        wrap: ["ip", "netns", "exec", ns],
      });
    }
  }

  /** Cuts member i off from every other member (both directions); clients still reach it. */
  cut(i: number): void {
    must(["link", "set", `${this.tag}p${i}`, "down"]);
  }

  heal(i: number): void {
    must(["link", "set", `${this.tag}p${i}`, "up"]);
  }

  /** Removes namespaces (their veth ends go with them) and the bridge. Idempotent. */
  cleanup(): void {
    for (const l of this.rootLinks.splice(0)) ip(["link", "del", l]);
    for (const ns of this.namespaces.splice(0)) ip(["netns", "del", ns]);
    if (this.bridge) ip(["link", "del", this.bridge]);
    this.bridge = undefined;
  }
}
