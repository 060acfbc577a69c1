// The v2 API in end-to-end tests: members started with --enable-v2, Debian's etcdctl in v2 mode
// (ETCDCTL_API=2), plain HTTP requests as curl sends them, and the normalisation that makes two
// servers' answers comparable (their member and cluster IDs, ports and clocks differ).
import { spawn } from "node:child_process";
import { type CtlResult, ctlEnv } from "./etcdctl.ts";
import { LineProcess } from "./line-process.ts";
import type { Member } from "./member.ts";
import { ETCDCTL_BIN } from "./target.ts";
import { pollUntil, withTimeout } from "./wait.ts";

export const V2_FLAGS = ["--enable-v2=true"];

export function v2CtlEnv(): Record<string, string> {
  return { ...ctlEnv(), ETCDCTL_API: "2" };
}

/** ETCDCTL_API=2 etcdctl --endpoints=<url> args… (the v2 client wants a URL with a scheme). */
export function runV2ctl(url: string, args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CtlResult> {
  const child = spawn(ETCDCTL_BIN, [`--endpoints=${url}`, ...args], { env: { ...v2CtlEnv(), ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (d: Buffer) => out.push(d));
  child.stderr.on("data", (d: Buffer) => err.push(d));
  const done = new Promise<CtlResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolve({ stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), code: code ?? (signal ? 128 : -1) }),
    );
  });
  return withTimeout(done, opts.timeoutMs ?? 15_000, `etcdctl ${args.join(" ")}`).catch((e: unknown) => {
    child.kill("SIGKILL");
    throw e;
  });
}

/** A long-running v2 etcdctl (watch, exec-watch). */
export function spawnV2ctl(url: string, args: string[]): LineProcess {
  return new LineProcess(ETCDCTL_BIN, [`--endpoints=${url}`, ...args], { env: v2CtlEnv() });
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

export interface HttpOptions {
  /** A urlencoded form body (sent with curl's -d content type). */
  readonly form?: string;
  /** A raw body with its content type. */
  readonly body?: string;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
  readonly timeoutMs?: number;
}

/** One request as curl would send it; redirects are not followed. */
export async function v2Http(base: string, method: string, path: string, o: HttpOptions = {}): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...o.headers };
  let body: string | undefined;
  if (o.form !== undefined) {
    body = o.form;
    headers["content-type"] = "application/x-www-form-urlencoded";
  } else if (o.body !== undefined) {
    body = o.body;
    if (o.contentType !== undefined) headers["content-type"] = o.contentType;
  }
  const res = await fetch(base + path, { method, headers, body, redirect: "manual", signal: AbortSignal.timeout(o.timeoutMs ?? 10_000) });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/**
 * Waits until the member's own bootstrap writes are in its v2 store (its raft attributes,
 * attributes and the cluster version: index 3 on a fresh single member), so that the indexes
 * the tests see next are the same on every server.
 */
export async function waitV2Ready(m: Member, index = 3): Promise<void> {
  await pollUntil(
    async () => {
      const r = await v2Http(m.clientURL, "GET", "/v2/keys/");
      return r.status === 200 && Number(r.headers.get("x-etcd-index")) >= index ? true : undefined;
    },
    10_000,
    `v2 store of ${m.clientURL} to reach index ${index}`,
  );
}

/** The v2 member ID of a member (from /v2/members, as etcdctl shows it). */
export async function v2Ids(m: Member): Promise<{ member: string; cluster: string }> {
  const r = await v2Http(m.clientURL, "GET", "/v2/members");
  const members = (JSON.parse(r.body) as { members: { id: string; clientURLs: string[] }[] }).members;
  const self = members.find((x) => x.clientURLs.includes(m.clientURL));
  if (self === undefined) throw new Error(`member ${m.clientURL} not in ${r.body}`);
  return { member: self.id, cluster: r.headers.get("x-etcd-cluster-id") ?? "" };
}

/** Replaces one server's IDs, ports and times with placeholders. */
export function normalizer(m: Member, ids: { member: string; cluster: string }): (s: string) => string {
  return (s) =>
    s
      .replaceAll(ids.member, "<member>")
      .replaceAll(ids.cluster, "<cluster>")
      .replaceAll(String(m.clientPort), "<client-port>")
      .replaceAll(String(m.peerPort), "<peer-port>")
      .replace(/"expiration":"[^"]+"/g, '"expiration":"<time>"')
      .replace(/"Expiration":"[^"]+"/g, '"Expiration":"<time>"');
}
