// Text renderings of raft values for scripted test output (close to etcd's raft/util.go).

import {
  ConfChangeType, decodeConfChange, describeConfState, EntryType, hexId, messageTypeName,
  type Entry, type HardState, type Message, type Ready, type Snapshot,
} from "../../../src/raft/index.ts";

const dec = new TextDecoder();

export function describeConfChangeData(data: Uint8Array): string {
  const cc = decodeConfChange(data);
  const p = { [ConfChangeType.AddNode]: "v", [ConfChangeType.AddLearnerNode]: "l", [ConfChangeType.RemoveNode]: "r", [ConfChangeType.UpdateNode]: "u" }[cc.type];
  return `${p}${hexId(cc.nodeId)}`;
}

export function describeEntry(e: Entry): string {
  if (e.type === EntryType.ConfChange) return `${e.term}/${e.index} EntryConfChange ${describeConfChangeData(e.data)}`;
  return `${e.term}/${e.index} EntryNormal ${JSON.stringify(dec.decode(e.data))}`;
}

export function describeEntries(ents: readonly Entry[]): string {
  return ents.map(describeEntry).join("\n");
}

export function describeHardState(hs: HardState): string {
  return `Term:${hs.term} Vote:${hexId(hs.vote)} Commit:${hs.commit}`;
}

export function describeSnapshot(s: Snapshot): string {
  return `Index:${s.meta.index} Term:${s.meta.term} ConfState:${describeConfState(s.meta.confState)}`;
}

export function describeMessage(m: Message): string {
  let s = `${hexId(m.from)}->${hexId(m.to)} ${messageTypeName[m.type]} Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.reject) s += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.commit !== 0) s += ` Commit:${m.commit}`;
  if (m.entries.length > 0) s += ` Entries:[${m.entries.map(describeEntry).join(", ")}]`;
  if (m.context.length > 0) s += ` Context:${JSON.stringify(dec.decode(m.context))}`;
  if (m.snapshot) s += ` Snapshot: ${describeSnapshot(m.snapshot)}`;
  return s;
}

export function describeReady(rd: Ready): string {
  const out: string[] = [`Ready MustSync=${rd.mustSync}:`];
  if (rd.softState) out.push(`Lead:${hexId(rd.softState.lead)} State:${rd.softState.role}`);
  if (rd.hardState) out.push(`HardState ${describeHardState(rd.hardState)}`);
  if (rd.readStates.length > 0) {
    out.push(`ReadStates: ${rd.readStates.map((r) => `{Index:${r.index} RequestCtx:${JSON.stringify(dec.decode(r.requestCtx))}}`).join(" ")}`);
  }
  if (rd.entries.length > 0) out.push("Entries:", describeEntries(rd.entries));
  if (rd.snapshot) out.push(`Snapshot ${describeSnapshot(rd.snapshot)}`);
  if (rd.committedEntries.length > 0) out.push("CommittedEntries:", describeEntries(rd.committedEntries));
  if (rd.messages.length > 0) out.push("Messages:", ...rd.messages.map(describeMessage));
  return out.join("\n");
}
