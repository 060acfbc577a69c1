// etcd's error catalogue and its mappings, shared by server, transport, api and clients.
export { Code, CODE_NAMES } from "./code.ts";
export { EtcdError, isEtcdError } from "./error.ts";
export { Errors, RawErrors, rawAuthError } from "./errors.ts";
export { toStatus, type Status } from "./status.ts";
export { httpStatusFromCode, statusText } from "./http.ts";
export { V2Code, V2Error, v2Message } from "./v2.ts";
export { DiscoveryError, DiscoveryErrors, V2ClientErrors } from "./discovery.ts";
export { goDecodeFirst, goJsonParse, goSyntaxError } from "./go-json.ts";
