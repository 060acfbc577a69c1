// The alarm set (etcd's alarmStore): (member, alarm type) pairs, persisted in `alarms`.
import type { InStatement } from "../storage/sql-db.ts";
import { AlarmType, type AlarmMember } from "../gen/rpc_pb.ts";

export class AlarmSet {
  private readonly set = new Map<string, AlarmMember>();

  private static key(memberId: bigint, alarm: AlarmType): string {
    return `${memberId}:${alarm}`;
  }

  restore(memberId: bigint, alarm: AlarmType): void {
    this.set.set(AlarmSet.key(memberId, alarm), member(memberId, alarm));
  }

  /** Alarms of a type; NONE = all. */
  get(alarm: AlarmType = AlarmType.NONE): AlarmMember[] {
    return [...this.set.values()].filter((m) => alarm === AlarmType.NONE || m.alarm === alarm);
  }

  has(alarm: AlarmType): boolean {
    for (const m of this.set.values()) if (m.alarm === alarm) return true;
    return false;
  }

  /** Returns the alarm member, or undefined for the NONE type (etcd ignores it). */
  activate(memberId: bigint, alarm: AlarmType, out: InStatement[]): AlarmMember | undefined {
    if (alarm === AlarmType.NONE) return undefined;
    const k = AlarmSet.key(memberId, alarm);
    const m = member(memberId, alarm);
    if (!this.set.has(k)) {
      this.set.set(k, m);
      out.push({ sql: "INSERT OR IGNORE INTO alarms (member_id, alarm) VALUES (?, ?)", args: [memberId.toString(), alarm] });
    }
    return m;
  }

  /** Returns the removed alarm member, or undefined if it was not raised. */
  deactivate(memberId: bigint, alarm: AlarmType, out: InStatement[]): AlarmMember | undefined {
    const k = AlarmSet.key(memberId, alarm);
    const m = this.set.get(k);
    if (m === undefined) return undefined;
    this.set.delete(k);
    out.push({ sql: "DELETE FROM alarms WHERE member_id = ? AND alarm = ?", args: [memberId.toString(), alarm] });
    return m;
  }
}

function member(memberID: bigint, alarm: AlarmType): AlarmMember {
  return { $typeName: "etcdserverpb.AlarmMember", memberID, alarm };
}
