// What to do about each etcd error the dashboard can meet: etcd's exact message (from the
// shared catalogue, src/rpctypes) → one sentence of advice shown under it.
import { Errors, RawErrors } from "../../src/rpctypes/errors.ts";

const table: [string, string][] = [
  [Errors.permissionDenied.message, "Your user's roles do not grant this. Ask an administrator (root) to grant a role with the permission, or log in as another user."],
  [RawErrors.permissionDenied.message, "This maintenance action needs the root role. Log in as a user that holds it."],
  [Errors.userEmpty.message, "Authentication is enabled on this cluster: log in first."],
  [RawErrors.userEmpty.message, "Authentication is enabled on this cluster: log in first."],
  [Errors.invalidAuthToken.message, "Your session token expired or was revoked (password change, user deleted, auth disabled, member restarted). Log in again."],
  [RawErrors.invalidAuthToken.message, "Your session token expired or was revoked. Log in again."],
  [Errors.authOldRevision.message, "Users or roles changed while the request ran. Try again; log in again if it persists."],
  [Errors.authFailed.message, "Check the user name and password."],
  [Errors.authNotEnabled.message, "Authentication is off: every request is allowed without logging in."],
  [Errors.userNotFound.message, "No such user. Check the name in the Auth view."],
  [Errors.userAlreadyExist.message, "Choose another user name, or edit the existing user."],
  [Errors.roleNotFound.message, "No such role. Create it first in the Auth view."],
  [Errors.roleAlreadyExist.message, "Choose another role name."],
  [Errors.roleNotGranted.message, "The user does not hold this role; nothing to revoke."],
  [Errors.permissionNotGranted.message, "Revoking needs exactly the key and range end that were granted; check the role's permission list."],
  [Errors.invalidAuthMgmt.message, "root cannot be deleted or lose the root role while auth is enabled, and a permission's range end must be after its key. Disable auth first or fix the range."],
  [Errors.rootUserNotExist.message, "Create a user named root (and give it the root role) before enabling authentication."],
  [Errors.rootRoleNotExist.message, "Grant the root role to user root before enabling authentication."],
  [Errors.emptyKey.message, "Enter a key."],
  [Errors.keyNotFound.message, "The key does not exist (any more). Refresh the list."],
  [Errors.compacted.message, "That revision was compacted away; only revisions after the compaction can be read or watched."],
  [Errors.futureRev.message, "That revision does not exist yet; use one up to the current revision."],
  [Errors.noSpace.message, "The database reached its quota (NOSPACE alarm). Compact, defragment every member, then disarm the alarm in the Members view."],
  [Errors.leaseNotFound.message, "The lease expired or was revoked. Refresh the list."],
  [Errors.leaseExist.message, "Choose another lease ID, or leave the ID empty to let the member pick one."],
  [Errors.leaseTTLTooLarge.message, "Use a TTL below 9,000,000,000 seconds."],
  [Errors.tooManyOps.message, "The transaction has more operations than --max-txn-ops allows; use smaller batches."],
  [Errors.duplicateKey.message, "The same key appears twice in one batch; remove the duplicate."],
  [Errors.requestTooLarge.message, "The request is larger than --max-request-bytes; use smaller values or batches."],
  [Errors.tooManyRequests.message, "The member is overloaded; wait a moment and retry."],
  [Errors.noLeader.message, "The cluster has no leader (no quorum). Check that a majority of members is running and can reach each other."],
  [Errors.notLeader.message, "This action must reach the leader; refresh the Cluster view and retry."],
  [Errors.leaderChanged.message, "The leader changed during the request; retry."],
  [Errors.timeout.message, "The cluster did not answer in time; check member health and retry."],
  [Errors.timeoutDueToLeaderFail.message, "The leader failed during the request; retry once a new leader is elected."],
  [Errors.timeoutDueToConnectionLost.message, "This member lost its connection to the leader; retry."],
  [Errors.unhealthyCluster.message, "Membership changes are refused until every member is healthy (and for 5 s after a start). Wait, then retry."],
  [Errors.memberNotEnoughStarted.message, "Removing or adding this member would leave too few started members for a quorum. Start the missing members first."],
  [Errors.memberBadURLs.message, "Peer URLs must be absolute URLs such as http://10.0.0.4:2380, separated by commas."],
  [Errors.peerURLExist.message, "Another member already uses these peer URLs."],
  [Errors.memberNotFound.message, "No member with that ID (already removed?). Refresh the list."],
  [Errors.memberNotLearner.message, "Only a learner can be promoted."],
  [Errors.learnerNotReady.message, "The learner has not caught up with the leader yet: start it, wait until its raft index is close to the leader's, then promote."],
  [Errors.tooManyLearners.message, "A cluster may have one learner at a time: promote or remove the current one first."],
  [Errors.notSupportedForLearner.message, "This member is a learner and serves only status and serializable reads. Open the dashboard of a voting member."],
  [Errors.badLeaderTransferee.message, "Leadership can only move to a started voting member."],
  [Errors.corrupt.message, "A member's data is corrupt: restore it from a snapshot."],
];

const byMessage = new Map(table);

/** The advice for etcd's error `message`, if the catalogue knows it. */
export function adviceFor(message: string): string | undefined {
  const direct = byMessage.get(message);
  if (direct !== undefined) return direct;
  // A watch's cancel_reason wraps the message: "rpc error: code = X desc = <message>".
  const m = /desc = (.*)$/.exec(message);
  if (m !== null) return adviceFor(m[1]!);
  // A message the page extended with details, e.g. "… compacted (compacted at 42)".
  for (const [known, advice] of table) if (message.startsWith(known)) return advice;
  if (message.startsWith("cannot reach the member")) return "The member did not answer: check that it is running and reachable.";
  if (message.includes("received message larger than max")) return "The request exceeds the member's receive limit; use smaller values or batches.";
  return undefined;
}

/** Every message with advice (tests check each is a catalogue text). */
export const advisedMessages: readonly string[] = table.map(([m]) => m);
