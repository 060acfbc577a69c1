// Per-user merged permissions (etcd's rangePermCache): a read set and a write set, the union
// of every permission of every role the user holds. Built lazily on first use and stamped with
// the auth revision it was built at; any auth change bumps the revision, so a stale entry is
// rebuilt on its next use instead of every entry being rebuilt on every change.
import { IntervalSet, pointInterval, type Interval } from "./interval-set.ts";
import type { AuthPerm, AuthRole, AuthUser } from "./types.ts";
import { PermType } from "./types.ts";

export interface UserPerms {
  readonly revision: number;
  readonly read: IntervalSet;
  readonly write: IntervalSet;
}

/** A permission's interval: range_end empty = one key; "\0" = open-ended. */
export function permInterval(p: AuthPerm): Interval {
  if (p.rangeEnd === "") return pointInterval(p.key);
  if (p.rangeEnd === "\0") return { start: p.key, end: undefined };
  return { start: p.key, end: p.rangeEnd };
}

export function mergePerms(user: AuthUser, roles: ReadonlyMap<string, AuthRole>, revision: number): UserPerms {
  const read: Interval[] = [];
  const write: Interval[] = [];
  for (const name of user.roles) {
    const role = roles.get(name);
    if (role === undefined) continue; // granted before the role existed (root), or deleted
    for (const p of role.perms) {
      const iv = permInterval(p);
      if (p.type === PermType.READ || p.type === PermType.READWRITE) read.push(iv);
      if (p.type === PermType.WRITE || p.type === PermType.READWRITE) write.push(iv);
    }
  }
  return { revision, read: new IntervalSet(read), write: new IntervalSet(write) };
}
