// `/debug/vars` on the client port: etcd serves Go's expvar page there, and operators read its
// `raft.status` (the member's view of Raft: term, vote, commit, applied, the leader's progress
// of each follower) and `cmdline`. Same keys, same order (expvar sorts them), same layout (one
// key per line inside braces). `memstats` is Go's runtime.MemStats in etcd; here it carries the
// fields whose meaning this runtime has (heap in use, heap reserved, process size) under Go's
// names, and nothing invented for the rest.
import type { Status } from "../raft/index.ts";

export interface DebugVarsSource {
  readonly cmdline: readonly string[];
  /** RLIMIT_NOFILE (soft); left out when unknown. */
  readonly fdLimit: number | undefined;
  readonly memory: { readonly rss: number; readonly heapTotal: number; readonly heapUsed: number };
  readonly raft: Status;
}

/** etcd raft's Status.MarshalJSON: IDs in hex, progress only on the leader. */
export function raftStatusJson(s: Status): string {
  const hex = (id: bigint) => id.toString(16);
  const progress = [...s.progress].map(([id, p]) => `${JSON.stringify(hex(id))}:{"match":${p.match},"next":${p.next},"state":${JSON.stringify(p.state)}}`);
  return (
    `{"id":"${hex(s.id)}","term":${s.term},"vote":"${hex(s.vote)}","commit":${s.commit},"lead":"${hex(s.lead)}",` +
    `"raftState":${JSON.stringify(s.role)},"applied":${s.applied},"progress":{${progress.join(",")}},"leadtransferee":"${hex(s.leadTransferee)}"}`
  );
}

export function renderDebugVars(v: DebugVarsSource): string {
  const m = v.memory;
  const memstats = {
    Alloc: m.heapUsed,
    Sys: m.rss,
    HeapAlloc: m.heapUsed,
    // Go's invariant HeapSys = HeapIdle + HeapInuse: this runtime's heapUsed can pass its
    // heapTotal (objects it counts outside the heap's blocks), which Go's fields never show.
    HeapSys: Math.max(m.heapTotal, m.heapUsed),
    HeapIdle: Math.max(0, m.heapTotal - m.heapUsed),
    HeapInuse: m.heapUsed,
  };
  const vars: Array<[string, string]> = [["cmdline", JSON.stringify(v.cmdline)]];
  if (v.fdLimit !== undefined) vars.push(["file_descriptor_limit", String(v.fdLimit)]);
  vars.push(["memstats", JSON.stringify(memstats)], ["raft.status", raftStatusJson(v.raft)]);
  return `{\n${vars.map(([k, val]) => `${JSON.stringify(k)}: ${val}`).join(",\n")}\n}\n`;
}
