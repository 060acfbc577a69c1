// Every RPC the client port serves, by gRPC path. Adapters are thin: parse, call, encode.
import type { DescMethod } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { Health, HealthCheckResponse_ServingStatus, HealthCheckResponseSchema } from "../../gen/health_pb.ts";
import { Auth, Cluster, KV, Lease, Maintenance } from "../../gen/rpc_pb.ts";
import { Election } from "../../gen/v3election_pb.ts";
import { Lock } from "../../gen/v3lock_pb.ts";
import { Code, EtcdError, Errors } from "../../rpctypes/index.ts";
import { campaign, leader, lock, observe, proclaim, resign, unlock } from "../concurrency/index.ts";
import { serverStream, unary, type RpcMethod, type UnaryMethod } from "./method.ts";
import { leaseKeepAliveMethod, watchMethod } from "./watch-methods.ts";

/**
 * Auth RPCs call the server method named like the generated local name (`authEnable`,
 * `authenticate`, `userAdd`, …) when the server has one. Without it, Authenticate answers
 * "authentication is not enabled" (clientv3 then proceeds without a token) and the rest are
 * Unimplemented, as a gRPC server without that method would answer.
 */
function authMethod(m: DescMethod): UnaryMethod {
  const name = m.localName;
  const base = unary(m as DescMethod & { methodKind: "unary" }, async (server, req, ctx) => {
    const fn = (server as unknown as Record<string, unknown>)[name];
    if (typeof fn === "function") return fn.call(server, req, ctx);
    if (name === "authenticate") throw Errors.authNotEnabled;
    throw new EtcdError(Code.Unimplemented, `method ${m.name} not implemented`);
  });
  return base;
}

const notServing = (service: string) => new EtcdError(Code.NotFound, `unknown service ${service}`);

const methods: RpcMethod[] = [
  unary(KV.method.range, (s, req, ctx) => s.range(req, ctx)),
  unary(KV.method.put, (s, req, ctx) => s.put(req, ctx)),
  unary(KV.method.deleteRange, (s, req, ctx) => s.deleteRange(req, ctx)),
  unary(KV.method.txn, (s, req, ctx) => s.txn(req, ctx)),
  unary(KV.method.compact, (s, req, ctx) => s.compact(req, ctx)),
  watchMethod,
  unary(Lease.method.leaseGrant, (s, req, ctx) => s.leaseGrant(req, ctx)),
  unary(Lease.method.leaseRevoke, (s, req, ctx) => s.leaseRevoke(req, ctx)),
  leaseKeepAliveMethod,
  unary(Lease.method.leaseTimeToLive, (s, req, ctx) => s.leaseTimeToLive(req, ctx)),
  unary(Lease.method.leaseLeases, (s, _req, ctx) => s.leaseLeases(ctx)),
  unary(Cluster.method.memberAdd, (s, req, ctx) => s.memberAdd(req, ctx)),
  unary(Cluster.method.memberRemove, (s, req, ctx) => s.memberRemove(req, ctx)),
  unary(Cluster.method.memberUpdate, (s, req, ctx) => s.memberUpdate(req, ctx)),
  unary(Cluster.method.memberList, (s, _req, ctx) => s.memberList(ctx)),
  unary(Cluster.method.memberPromote, (s, req, ctx) => s.memberPromote(req, ctx)),
  unary(Maintenance.method.alarm, (s, req, ctx) => s.alarm(req, ctx)),
  unary(Maintenance.method.status, (s, _req, ctx) => s.status(ctx)),
  unary(Maintenance.method.defragment, (s, _req, ctx) => s.defragment(ctx)),
  unary(Maintenance.method.hash, (s, _req, ctx) => s.hash(ctx)),
  unary(Maintenance.method.hashKV, (s, req, ctx) => s.hashKV(req, ctx)),
  serverStream(Maintenance.method.snapshot, (s, _req, ctx) => s.snapshot(ctx)),
  unary(Maintenance.method.moveLeader, (s, req, ctx) => s.moveLeader(req, ctx)),
  ...Auth.methods.map(authMethod),
  unary(Health.method.check, async (_s, req) => {
    if (req.service !== "") throw notServing(req.service);
    return create(HealthCheckResponseSchema, { status: HealthCheckResponse_ServingStatus.SERVING });
  }),
  serverStream(Health.method.watch, async function* (_s, req, ctx) {
    yield create(HealthCheckResponseSchema, {
      status: req.service === "" ? HealthCheckResponse_ServingStatus.SERVING : HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN,
    });
    // The status never changes while the port is open: hold the stream until the client leaves.
    const signal = ctx.signal;
    if (signal && !signal.aborted) await new Promise((r) => signal.addEventListener("abort", r, { once: true }));
  }),
  unary(Lock.method.lock, lock, true),
  unary(Lock.method.unlock, unlock),
  unary(Election.method.campaign, campaign, true),
  unary(Election.method.proclaim, proclaim),
  unary(Election.method.leader, leader),
  serverStream(Election.method.observe, observe),
  unary(Election.method.resign, resign),
];

/** gRPC path → method. */
export const rpcTable: ReadonlyMap<string, RpcMethod> = new Map(methods.map((m) => [m.path, m]));

/** Service names served, for "unknown service" vs "unknown method" answers. */
export const rpcServices: ReadonlySet<string> = new Set(methods.map((m) => m.path.split("/")[1]!));

