// /v2/members and /v2/machines (etcd 3.4's membersHandler and machinesHandler): the member list
// as v2 clients read it, and add/remove/update through the same cluster operations as the v3
// Cluster service, with etcd's v2 status codes and texts.
import * as v from "valibot";
import { create } from "@bufbuild/protobuf";
import { MemberAddRequestSchema, MemberRemoveRequestSchema, MemberUpdateRequestSchema } from "../../gen/rpc_pb.ts";
import { Errors } from "../../server/errors.ts";
import type { Logger } from "../../server/logger.ts";
import type { EtcdServer } from "../../server/types.ts";
import type { V2Service } from "../../server/v2-service.ts";
import type { PeerMember } from "../../transport/types.ts";
import { fixed, goError, goJson, jsonLine, messageError, methodNotAllowed } from "./http.ts";

export const MEMBERS_PREFIX = "/v2/members";

const hex = (id: bigint): string => id.toString(16);

function memberJson(m: PeerMember): string {
  return goJson({ id: hex(m.id), name: m.name, peerURLs: [...m.peerURLs], clientURLs: [...m.clientURLs] });
}

/** GET /v2/machines: every member's client URLs, sorted, joined by ", ". */
export function machines(svc: V2Service): Response {
  const urls = svc.members().flatMap((m) => m.clientURLs).sort();
  return fixed(200, urls.join(", "), { "content-type": "text/plain; charset=utf-8" });
}

/** {"peerURLs":[…]} (etcd's MemberCreateRequest / MemberUpdateRequest). */
const PeerUrlsBody = v.object({ peerURLs: v.nullish(v.array(v.string()), null) });

/** etcd's types.NewURLs: each URL http(s)://host:port, no path; the error texts are Go's. */
function checkUrls(urls: readonly string[]): string | undefined {
  for (const s of urls) {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return `parse ${JSON.stringify(s)}: invalid URI for request`;
    }
    if (u.protocol !== "http:" && u.protocol !== "https:" && u.protocol !== "unix:" && u.protocol !== "unixs:") {
      return `URL scheme must be http, https, unix, or unixs: ${s}`;
    }
    if (u.port === "" && !/:\d+$/.test(u.host)) return `URL address does not have the form "host:port": ${s}`;
    if (u.pathname !== "" && u.pathname !== "/") return `URL must not contain a path: ${s}`;
  }
  return undefined;
}

/** Reads an application/json {"peerURLs":[…]} body: the URLs or an error response. */
async function peerUrls(req: Request, cluster: Record<string, string>): Promise<string[] | Response> {
  const ctype = (req.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (ctype !== "application/json") return messageError(415, `Bad Content-Type ${ctype}, accept application/json`, cluster);
  let json: unknown;
  try {
    json = JSON.parse(await req.text());
  } catch (e) {
    return messageError(400, e instanceof Error ? e.message : "invalid JSON", cluster);
  }
  const r = v.safeParse(PeerUrlsBody, json);
  if (!r.success) return messageError(400, "json: cannot unmarshal the request body into a member request", cluster);
  const urls = r.output.peerURLs ?? [];
  const bad = checkUrls(urls);
  if (bad !== undefined) return messageError(400, bad, cluster);
  return urls;
}

/** etcd's types.IDFromString: hex, at most 64 bits. */
function parseId(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F]{1,16}$/.test(s)) return undefined;
  return BigInt(`0x${s}`);
}

/** Everything else a cluster operation can fail with: etcd answers 500 "Internal Server Error". */
function internal(logger: Logger, what: string, err: unknown, cluster: Record<string, string>): Response {
  logger.warn(`failed to ${what}`, { error: err instanceof Error ? err.message : String(err) });
  return messageError(500, "Internal Server Error", cluster);
}

export async function serveMembers(
  svc: V2Service,
  server: EtcdServer,
  logger: Logger,
  req: Request,
  sub: string,
  cluster: Record<string, string>,
): Promise<Response> {
  switch (req.method) {
    case "GET":
      if (sub === "") return jsonLine(200, `{"members":[${svc.members().map(memberJson).join(",")}]}`, cluster);
      if (sub === "leader") {
        const lead = svc.leader();
        const m = svc.members().find((x) => x.id === lead);
        if (lead === 0n || m === undefined) return messageError(503, "During election", cluster);
        return jsonLine(200, memberJson(m), cluster);
      }
      return messageError(404, "Not found", cluster);
    case "POST": {
      const urls = await peerUrls(req, cluster);
      if (urls instanceof Response) return urls;
      try {
        const res = await server.memberAdd(create(MemberAddRequestSchema, { peerURLs: urls }), {});
        const m = res.member!;
        return jsonLine(201, memberJson({ id: m.ID, name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: m.isLearner }), cluster);
      } catch (e) {
        if (e === Errors.peerURLExist) return messageError(409, "membership: peerURL exists", cluster);
        if (e === Errors.memberExist) return messageError(409, "membership: ID exists", cluster);
        if (e === Errors.memberBadURLs) return messageError(400, Errors.memberBadURLs.message, cluster);
        return internal(logger, "add a member", e, cluster);
      }
    }
    case "DELETE": {
      if (sub === "") return goError(405, "Method Not Allowed", cluster);
      const id = parseId(sub);
      if (id === undefined) return messageError(404, `No such member: ${sub}`, cluster);
      if (svc.isRemoved(id)) return messageError(410, `Member permanently removed: ${hex(id)}`, cluster);
      try {
        await server.memberRemove(create(MemberRemoveRequestSchema, { ID: id }), {});
        return new Response(null, { status: 204, headers: cluster });
      } catch (e) {
        if (e === Errors.memberNotFound) return messageError(404, `No such member: ${hex(id)}`, cluster);
        return internal(logger, "remove a member", e, cluster);
      }
    }
    case "PUT": {
      if (sub === "") return goError(405, "Method Not Allowed", cluster);
      const id = parseId(sub);
      if (id === undefined) return messageError(404, `No such member: ${sub}`, cluster);
      const urls = await peerUrls(req, cluster);
      if (urls instanceof Response) return urls;
      try {
        await server.memberUpdate(create(MemberUpdateRequestSchema, { ID: id, peerURLs: urls }), {});
        return new Response(null, { status: 204, headers: cluster });
      } catch (e) {
        if (e === Errors.peerURLExist) return messageError(409, "membership: peerURL exists", cluster);
        if (e === Errors.memberNotFound) return messageError(404, `No such member: ${hex(id)}`, cluster);
        if (e === Errors.memberBadURLs) return messageError(400, Errors.memberBadURLs.message, cluster);
        return internal(logger, "update a member", e, cluster);
      }
    }
    default:
      return methodNotAllowed(["GET", "POST", "DELETE", "PUT"]);
  }
}
