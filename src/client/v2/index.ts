// etcd's v2 client (go.etcd.io/etcd/client) for `conclave ctl` in v2 mode: the keys, members
// and security APIs over HTTP/1.1 with its endpoint failover, errors and quirks. Loaded only by
// the v2 commands (it brings node:http).
export { ClusterError, Errs, isConnectionError, type V2Action, V2Client, type V2ClientConfig } from "./client.ts";
export { closeIdle, DeadlineError, exchange, TransportError, type V2Tls } from "./http.ts";
export { type DeleteOptions, type GetOptions, KeysApi, keysResponse, type PrevExist, type SetOptions, V2KeysError, type V2Node, type V2Response } from "./keys.ts";
export { MembersApi, newURLs, type V2Member } from "./members.ts";
export { AuthApi, type PermissionType, type V2Permissions, type V2Role, type V2User } from "./auth.ts";
export { canonicalURLPath, encodeValues, escapePath, goUrlString, parseGoUrl, pathClean, pathJoin, queryEscape } from "./url.ts";
