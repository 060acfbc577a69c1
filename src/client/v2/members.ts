// /v2/members as etcd's client.MembersAPI calls it: list, leader, add, remove, update, with
// the same status checks ("unexpected status code 404") and peer URL validation
// (types.NewURLs) before anything is sent.
import type { V2Client } from "./client.ts";
import { goJsonParse } from "../../rpctypes/index.ts";
import { escapePath, goUrlString, type GoUrl, parseGoUrl, pathJoin } from "./url.ts";

export interface V2Member {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

/** encoding/json field matching: exact name first, then without regard to case. */
function field(o: unknown, name: string): unknown {
  if (o === null || typeof o !== "object" || Array.isArray(o)) return undefined;
  const r = o as Record<string, unknown>;
  if (name in r) return r[name];
  return Object.entries(r).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
}

const strs = (v: unknown): string[] => (Array.isArray(v) ? v.map((x) => (typeof x === "string" ? x : "")) : []);

function member(o: unknown): V2Member {
  const s = (v: unknown) => (typeof v === "string" ? v : "");
  return { id: s(field(o, "id")), name: s(field(o, "name")), peerURLs: strs(field(o, "peerURLs")), clientURLs: strs(field(o, "clientURLs")) };
}

function statusError(got: number, ...want: number[]): Error | undefined {
  return want.includes(got) ? undefined : new Error(`unexpected status code ${got}`);
}

/** types.NewURLs: Go's checks and texts; the URLs sorted. */
export function newURLs(strsIn: string[]): string[] {
  if (strsIn.length === 0) throw new Error("no valid URLs given");
  const out: string[] = [];
  for (const raw of strsIn) {
    const s = raw.trim();
    const u = parseGoUrl(s);
    if (!["http", "https", "unix", "unixs"].includes(u.scheme)) throw new Error(`URL scheme must be http, https, unix, or unixs: ${s}`);
    if (!/^(\[[^\]]*\]|[^:]*):[^:]*$/.test(u.host)) throw new Error(`URL address does not have the form "host:port": ${s}`);
    if (u.path !== "") throw new Error(`URL must not contain a path: ${s}`);
    out.push(goUrlString(u));
  }
  return out.sort();
}

export class MembersApi {
  constructor(private readonly c: V2Client) {}

  private url(ep: GoUrl, ...rest: string[]): string {
    return `${ep.scheme}://${ep.host}${escapePath(pathJoin(ep.path, "/v2/members", ...rest))}`;
  }

  async list(deadline: number | undefined): Promise<V2Member[]> {
    const r = await this.c.do({ method: "GET", url: (ep) => this.url(ep) }, deadline);
    const bad = statusError(r.status, 200);
    if (bad) throw bad;
    const ms = field(goJsonParse(r.body), "members");
    return Array.isArray(ms) ? ms.map(member) : [];
  }

  async leader(deadline: number | undefined): Promise<V2Member> {
    const r = await this.c.do({ method: "GET", url: (ep) => this.url(ep, "leader") }, deadline);
    const bad = statusError(r.status, 200);
    if (bad) throw bad;
    return member(goJsonParse(r.body));
  }

  async add(peerURL: string, deadline: number | undefined): Promise<V2Member> {
    const urls = newURLs([peerURL]);
    const body = JSON.stringify({ peerURLs: urls });
    const r = await this.c.do({ method: "POST", url: (ep) => this.url(ep), body, contentType: "application/json" }, deadline);
    const bad = statusError(r.status, 201, 409);
    if (bad) throw bad;
    const parsed = goJsonParse(r.body);
    if (r.status !== 201) throw new Error(String(field(parsed, "message") ?? ""));
    return member(parsed);
  }

  async remove(id: string, deadline: number | undefined): Promise<void> {
    const r = await this.c.do({ method: "DELETE", url: (ep) => this.url(ep, id) }, deadline);
    const bad = statusError(r.status, 204, 410);
    if (bad) throw bad;
  }

  async update(id: string, peerURLs: string[], deadline: number | undefined): Promise<void> {
    const urls = newURLs(peerURLs);
    const body = JSON.stringify({ peerURLs: urls });
    const r = await this.c.do({ method: "PUT", url: (ep) => this.url(ep, id), body, contentType: "application/json" }, deadline);
    const bad = statusError(r.status, 204, 404, 409);
    if (bad) throw bad;
    if (r.status !== 204) throw new Error(String(field(goJsonParse(r.body), "message") ?? ""));
  }
}
