// Public surface of membership: etcd's ID functions and the applied member table.
export { computeClusterId, computeMemberId, hexId } from "./ids.ts";
export {
  decodeMemberContext, encodeMemberContext, MemberTable,
  type MemberRecord, type MemberRow, type MembershipEvent,
} from "./members.ts";
