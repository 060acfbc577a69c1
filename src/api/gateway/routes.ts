// Gateway paths (etcd 3.4, reference §2) → gRPC paths. `/v3beta/...` is served the same.
const kv = "/etcdserverpb.KV/";
const lease = "/etcdserverpb.Lease/";
const cluster = "/etcdserverpb.Cluster/";
const maint = "/etcdserverpb.Maintenance/";
const auth = "/etcdserverpb.Auth/";

export const gatewayRoutes: ReadonlyMap<string, string> = new Map([
  ["/v3/kv/range", kv + "Range"],
  ["/v3/kv/put", kv + "Put"],
  ["/v3/kv/deleterange", kv + "DeleteRange"],
  ["/v3/kv/txn", kv + "Txn"],
  ["/v3/kv/compaction", kv + "Compact"],
  ["/v3/watch", "/etcdserverpb.Watch/Watch"],
  ["/v3/lease/grant", lease + "LeaseGrant"],
  ["/v3/lease/revoke", lease + "LeaseRevoke"],
  ["/v3/kv/lease/revoke", lease + "LeaseRevoke"],
  ["/v3/lease/keepalive", lease + "LeaseKeepAlive"],
  ["/v3/lease/timetolive", lease + "LeaseTimeToLive"],
  ["/v3/kv/lease/timetolive", lease + "LeaseTimeToLive"],
  ["/v3/lease/leases", lease + "LeaseLeases"],
  ["/v3/kv/lease/leases", lease + "LeaseLeases"],
  ["/v3/cluster/member/add", cluster + "MemberAdd"],
  ["/v3/cluster/member/remove", cluster + "MemberRemove"],
  ["/v3/cluster/member/update", cluster + "MemberUpdate"],
  ["/v3/cluster/member/list", cluster + "MemberList"],
  ["/v3/cluster/member/promote", cluster + "MemberPromote"],
  ["/v3/maintenance/alarm", maint + "Alarm"],
  ["/v3/maintenance/status", maint + "Status"],
  ["/v3/maintenance/defragment", maint + "Defragment"],
  // etcd 3.4 registers Hash and HashKV on the same path; Hash wins.
  ["/v3/maintenance/hash", maint + "Hash"],
  ["/v3/maintenance/snapshot", maint + "Snapshot"],
  ["/v3/maintenance/transfer-leadership", maint + "MoveLeader"],
  ["/v3/auth/enable", auth + "AuthEnable"],
  ["/v3/auth/disable", auth + "AuthDisable"],
  ["/v3/auth/authenticate", auth + "Authenticate"],
  ["/v3/auth/user/add", auth + "UserAdd"],
  ["/v3/auth/user/get", auth + "UserGet"],
  ["/v3/auth/user/list", auth + "UserList"],
  ["/v3/auth/user/delete", auth + "UserDelete"],
  ["/v3/auth/user/changepw", auth + "UserChangePassword"],
  ["/v3/auth/user/grant", auth + "UserGrantRole"],
  ["/v3/auth/user/revoke", auth + "UserRevokeRole"],
  ["/v3/auth/role/add", auth + "RoleAdd"],
  ["/v3/auth/role/get", auth + "RoleGet"],
  ["/v3/auth/role/list", auth + "RoleList"],
  ["/v3/auth/role/delete", auth + "RoleDelete"],
  ["/v3/auth/role/grant", auth + "RoleGrantPermission"],
  ["/v3/auth/role/revoke", auth + "RoleRevokePermission"],
  ["/v3/lock/lock", "/v3lockpb.Lock/Lock"],
  ["/v3/lock/unlock", "/v3lockpb.Lock/Unlock"],
  ["/v3/election/campaign", "/v3electionpb.Election/Campaign"],
  ["/v3/election/proclaim", "/v3electionpb.Election/Proclaim"],
  ["/v3/election/leader", "/v3electionpb.Election/Leader"],
  ["/v3/election/observe", "/v3electionpb.Election/Observe"],
  ["/v3/election/resign", "/v3electionpb.Election/Resign"],
]);

/** `/v3beta/x` → `/v3/x`; anything else unchanged. */
export function canonicalGatewayPath(path: string): string {
  return path.startsWith("/v3beta/") ? "/v3/" + path.slice(8) : path;
}
