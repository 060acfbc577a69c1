// The dashboard's HTTP surface on the client port, a hono app under /ui:
//   GET  /ui, /ui/                   the page (index.html, revalidated)
//   GET  /ui/assets/<hashed name>    scripts, styles, icon (immutable)
//   GET  /ui/api/info                this member's name, IDs, version and whether auth is on
//   POST /ui/api/members/:id/:call   Status, Defragment or MoveLeader on any member (member-calls.ts)
//   POST /ui/api/snapshot            the Snapshot stream as a file
// Everything else the page does goes to the v3 JSON gateway (/v3/*). Every action runs
// through the call pipeline with the caller's token (Authorization header), so identity,
// learner/leader rules, limits and authorization are the same as on gRPC and the gateway.
import { Hono } from "hono";
import * as v from "valibot";
import { Maintenance } from "../../gen/rpc_pb.ts";
import { isEtcdError, toStatus } from "../../rpctypes/index.ts";
import type { Logger } from "../../server/logger.ts";
import { decodeJson, httpStatusFromCode } from "../gateway/index.ts";
import type { Pipeline } from "../pipeline/index.ts";
import { methodOf, type ServerStreamMethod } from "../rpc/index.ts";
import { assetByName, assetResponse, indexAsset } from "./assets.ts";
import { DashboardErrors } from "./errors.ts";
import { MEMBER_CALLS, MemberCalls, type FetchLike, type MemberCallName } from "./member-calls.ts";
import { dashboardHeaders, sameOriginOnly } from "./security.ts";

export interface DashboardOptions {
  readonly pipeline: Pipeline;
  readonly logger: Logger;
  /** This member's name (--name). */
  readonly name: string;
  readonly version: string;
  /** How member calls reach other members' gateways (injected for tests). */
  readonly fetch: FetchLike;
}

const IMMUTABLE = "public, max-age=31536000, immutable";

/** Path parameters of a member call: a hex member ID (uint64) and a call the route serves. */
const MemberId = v.pipe(v.string(), v.regex(/^[0-9a-f]{1,16}$/));
const CallName = v.picklist(Object.keys(MEMBER_CALLS) as [MemberCallName, ...MemberCallName[]]);
const REVALIDATE = "no-cache";

/** The gateway's error body for `err` with its HTTP status. */
function errorResponse(err: unknown): Response {
  const st = toStatus(err);
  return new Response(JSON.stringify({ error: st.message, message: st.message, code: st.code }), {
    status: httpStatusFromCode(st.code),
    headers: { "content-type": "application/json" },
  });
}

export function dashboardApp(opts: DashboardOptions): Hono {
  const { pipeline } = opts;
  const calls = new MemberCalls(pipeline, opts.fetch);
  const snapshot = methodOf(Maintenance.method.snapshot) as ServerStreamMethod;
  const app = new Hono({ strict: false }).basePath("/ui");
  app.use("*", dashboardHeaders());
  app.use("/api/*", sameOriginOnly());
  app.onError((err) => {
    if (!isEtcdError(err)) opts.logger.warn("dashboard route failed", { error: String(err) });
    return errorResponse(err);
  });

  app.get("/", (c) => assetResponse(indexAsset(), c.req.raw, REVALIDATE));
  app.get("/assets/:name", (c) => {
    const a = assetByName(c.req.param("name"));
    return a === undefined ? c.text("404 page not found\n", 404) : assetResponse(a, c.req.raw, IMMUTABLE);
  });

  app.get("/api/info", (c) => {
    const s = pipeline.server;
    const h = s.header();
    c.header("cache-control", "no-store");
    return c.json({
      name: opts.name,
      memberId: h.memberId.toString(16),
      clusterId: h.clusterId.toString(16),
      authEnabled: s.auth.enabled(),
      version: opts.version,
    });
  });

  app.post("/api/members/:id/:call", async (c) => {
    const call = v.safeParse(CallName, c.req.param("call"));
    if (!call.success) return c.text("404 page not found\n", 404);
    const id = v.safeParse(MemberId, c.req.param("id"));
    if (!id.success) return errorResponse(DashboardErrors.badMemberId(c.req.param("id")));
    const ctx = await pipeline.httpContext(c.req.raw.headers, c.req.raw.signal);
    const body = await c.req.text();
    const ans = await calls.call(call.output, BigInt(`0x${id.output}`), body, ctx, c.req.header("authorization"));
    c.header("cache-control", "no-store");
    return c.body(ans.body, ans.status as 200, { "content-type": "application/json" });
  });

  app.post("/api/snapshot", async (c) => {
    const ac = new AbortController();
    c.req.raw.signal.addEventListener("abort", () => ac.abort(), { once: true });
    const req = decodeJson(snapshot.input, "{}");
    const it = pipeline.serverStream(snapshot, req, { authorization: c.req.header("authorization"), signal: ac.signal });
    // The first message decides between an error answer and a file.
    const first = await it.next();
    const blob = (m: unknown) => (m as { blob: Uint8Array }).blob;
    const body = new ReadableStream<Uint8Array>({
      start(ctl) {
        if (first.done === true) ctl.close();
        else ctl.enqueue(blob(first.value));
      },
      async pull(ctl) {
        try {
          const n = await it.next();
          if (n.done === true) ctl.close();
          else ctl.enqueue(blob(n.value));
        } catch (err) {
          ctl.error(err);
        }
      },
      cancel() {
        ac.abort();
        void it.return(undefined);
      },
    });
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    return new Response(body, {
      headers: {
        "content-type": "application/octet-stream",
        "content-disposition": `attachment; filename="snapshot-${opts.name.replace(/[^A-Za-z0-9._-]/g, "_")}-${stamp}.db"`,
        "cache-control": "no-store",
      },
    });
  });

  app.all("*", (c) => c.text("404 page not found\n", 404));
  return app;
}
