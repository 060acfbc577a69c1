// v3 auth: the replicated store of users, roles and permissions, the permission cache, tokens
// (simple and JWT) and password hashing. No gRPC types here: the server translates requests.
export { AuthStore, authTableRowsOf, decodeRole, decodeUser, encodeRole, encodeUser, validPermissionRange, type AuthEvents, type Identity } from "./store.ts";
export { FRESH_AUTH_STATE, PermType, ROOT_ROLE, ROOT_USER, type AuthPerm, type AuthRole, type AuthState, type AuthUser } from "./types.ts";
export { IntervalSet, pointInterval, type Interval } from "./interval-set.ts";
export { SimpleTokens, type TokenTimers } from "./simple-token.ts";
export { JwtConfigError, JwtTokens, type JwtOptions } from "./jwt-token.ts";
export { BCRYPT_MAX_BYTES, checkHashable, PasswordChecker, portableHasher, type PasswordHasher } from "./password.ts";
