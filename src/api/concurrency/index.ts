// Lock and Election services built only on the EtcdServer interface.
export { lock, unlock, sessionLease, DEFAULT_SESSION_TTL } from "./lock.ts";
export {
  campaign,
  proclaim,
  resign,
  leader,
  observe,
  ErrElectionNotLeader,
  ErrElectionNoLeader,
  ErrMissingLeaderKey,
} from "./election.ts";
export { waitDelete, waitDeletes } from "./wait.ts";
export { prefixEnd } from "./keys.ts";
export { clientErrors, clientErrorsStream } from "./client-errors.ts";
