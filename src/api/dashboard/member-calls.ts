// The calls the browser cannot make itself: a browser talks to this member only (same
// origin), but the cluster view needs every member's Status, "move leadership here" must reach
// the leader, and defragment is per member. The dashboard route names the member by ID; the
// call goes to that member's own dashboard route (/ui/api/members/<its id>/<call>), at a client
// URL taken from the cluster's member list (never one the browser names), with the caller's
// Authorization header, so the target member's pipeline authenticates and authorizes it there.
// (Its dashboard route, not its gateway: etcd's gateway refuses requests that carry a client
// certificate's CN while auth is on, and with --client-cert-auth a member must present one.)
// Calls to this member go through the local pipeline without a network hop.
import type { Message } from "@bufbuild/protobuf";
import { Cluster, Maintenance } from "../../gen/rpc_pb.ts";
import type { RequestContext } from "../../server/types.ts";
import { Errors } from "../../rpctypes/index.ts";
import { DashboardErrors } from "./errors.ts";
import { decodeJson, toJsonValue } from "../gateway/index.ts";
import type { Pipeline } from "../pipeline/index.ts";
import { methodOf, type UnaryMethod } from "../rpc/index.ts";

/** Member calls the dashboard forwards, by the gateway path they use. */
export const MEMBER_CALLS = {
  status: methodOf(Maintenance.method.status) as UnaryMethod,
  defragment: methodOf(Maintenance.method.defragment) as UnaryMethod,
  "transfer-leadership": methodOf(Maintenance.method.moveLeader) as UnaryMethod,
} as const;
export type MemberCallName = keyof typeof MEMBER_CALLS;

const memberList = methodOf(Cluster.method.memberList) as UnaryMethod;

/** What a member call answers: an HTTP status and the gateway's JSON body. */
export interface CallAnswer {
  readonly status: number;
  readonly body: string;
}

export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal }) => Promise<Response>;

export class MemberCalls {
  constructor(
    private readonly pipeline: Pipeline,
    private readonly fetchFn: FetchLike,
    private readonly timeoutMs = 3000,
  ) {}

  /**
   * Runs `name` on member `id` (decimal uint64) with `body` (the gateway's JSON request).
   * Throws EtcdError for local failures; a remote member's error answer is passed through.
   */
  async call(name: MemberCallName, id: bigint, body: string, ctx: RequestContext, authorization: string | undefined): Promise<CallAnswer> {
    const self = this.pipeline.server.header().memberId;
    if (id === self) return this.local(MEMBER_CALLS[name], body, ctx);
    const list = (await this.pipeline.invoke(memberList, decodeJson(memberList.input, "{}"), ctx)) as unknown as {
      members: { ID: bigint; clientURLs: string[] }[];
    };
    const target = list.members.find((m) => m.ID === id);
    if (target === undefined) throw Errors.memberNotFound;
    if (target.clientURLs.length === 0) throw DashboardErrors.notStarted(id.toString(16));
    let last: unknown;
    for (const url of target.clientURLs) {
      try {
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (authorization !== undefined) headers.authorization = authorization;
        const res = await this.fetchFn(new URL(`/ui/api/members/${id.toString(16)}/${name}`, url).href, {
          method: "POST",
          headers,
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        if (res.status === 404) throw DashboardErrors.noDashboard(id.toString(16));
        return { status: res.status, body: await res.text() };
      } catch (err) {
        last = err;
      }
    }
    throw DashboardErrors.unreachable(id.toString(16), target.clientURLs, last);
  }

  private async local(method: UnaryMethod, body: string, ctx: RequestContext): Promise<CallAnswer> {
    const req: Message = decodeJson(method.input, body === "" ? "{}" : body);
    const res = await this.pipeline.invoke(method, req, ctx);
    return { status: 200, body: JSON.stringify(toJsonValue(method.output, res)) };
  }
}
