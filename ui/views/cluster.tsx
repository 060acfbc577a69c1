// Cluster: every member's status refreshed every 2 s (leader, raft term and index, applied
// index, DB size and in use, version, learner, alarms), and the leader changes seen.
import { useRef, useState } from "preact/hooks";
import { api, type Json } from "../lib/api.ts";
import { hexId, humanBytes } from "../lib/bytes.ts";
import { leaderOf, listMembers, withStatus, type MemberRow } from "../lib/cluster.ts";
import type { Session } from "../lib/session.ts";
import { ErrorBox, Notice, Section, usePoll } from "./common.tsx";

interface LeaderChange {
  at: string;
  from: string;
  to: string;
}

export const REFRESH_MS = 2000;

export function ClusterView({ session }: { session: Session }) {
  const [rows, setRows] = useState<MemberRow[]>([]);
  const [alarms, setAlarms] = useState<Json[]>([]);
  const [changes, setChanges] = useState<LeaderChange[]>([]);
  const [updated, setUpdated] = useState("");
  const lastLeader = useRef<string | undefined>(undefined);

  const error = usePoll(async (signal) => {
    const { members } = await listMembers(signal);
    // Status needs the root role (etcd 3.4.45): other users see the member list only.
    const full = session.admin ? await withStatus(members, signal) : members;
    const alarmRes = await api.call("/v3/maintenance/alarm", { action: "GET" }, signal).catch(() => ({ alarms: [] }));
    if (signal.aborted) return;
    setRows(full);
    setAlarms((alarmRes.alarms ?? []) as Json[]);
    setUpdated(new Date().toLocaleTimeString());
    if (session.admin) {
      const leader = leaderOf(full);
      const prev = lastLeader.current;
      if (prev !== undefined && leader !== prev) {
        setChanges((c) => [{ at: new Date().toLocaleTimeString(), from: prev, to: leader }, ...c].slice(0, 20));
      }
      lastLeader.current = leader;
    }
  }, REFRESH_MS);

  const leader = leaderOf(rows);
  const nameOf = (id: string) => rows.find((r) => r.id === id)?.name || id;
  return (
    <>
      <Section title="Members" actions={<span class="muted" data-testid="updated">updated {updated}</span>}>
        <ErrorBox error={error} />
        {!session.admin && <Notice>Member status (raft index, DB size) needs the root role; you see the member list.</Notice>}
        <table class="grid" data-testid="cluster-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>ID</th>
              <th>Role</th>
              {session.admin && (
                <>
                  <th>Raft term</th>
                  <th>Raft index</th>
                  <th>Applied</th>
                  <th>DB size</th>
                  <th>In use</th>
                  <th>Version</th>
                  <th>Errors</th>
                </>
              )}
              <th>Client URLs</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const isLeader = r.id === leader;
              const st = r.status;
              return (
                <tr key={r.id} data-testid={`member-${r.name || r.id}`} class={isLeader ? "leader" : ""}>
                  <td>{r.name || <span class="muted">(unstarted)</span>}</td>
                  <td class="mono">{r.id}</td>
                  <td data-testid="role">{r.isLearner ? "learner" : isLeader ? "leader" : r.clientURLs.length === 0 ? "unstarted" : "follower"}</td>
                  {session.admin && (
                    <>
                      <td>{st?.raftTerm ?? ""}</td>
                      <td data-testid="raft-index">{st?.raftIndex ?? ""}</td>
                      <td>{st?.raftAppliedIndex ?? ""}</td>
                      <td>{st ? humanBytes(Number(st.dbSize ?? 0)) : ""}</td>
                      <td>{st ? humanBytes(Number(st.dbSizeInUse ?? 0)) : ""}</td>
                      <td>{st?.version ?? ""}</td>
                      <td class="bad">{r.error ? r.error.message : ((st?.errors ?? []) as string[]).join("; ")}</td>
                    </>
                  )}
                  <td class="mono">{r.clientURLs.join(", ")}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </Section>
      <Section title="Alarms">
        {alarms.length === 0 ? (
          <p class="muted" data-testid="no-alarms">No alarms.</p>
        ) : (
          <ul data-testid="alarms">
            {alarms.map((a) => (
              <li key={`${a.memberID}-${a.alarm}`}>
                {a.alarm} on {nameOf(hexId(a.memberID))}
              </li>
            ))}
          </ul>
        )}
      </Section>
      {session.admin && (
        <Section title="Leader changes">
          {changes.length === 0 ? (
            <p class="muted">No leader change since this page opened. Current leader: {leader === "0" ? "none" : nameOf(leader)}.</p>
          ) : (
            <ul data-testid="leader-changes">
              {changes.map((c) => (
                <li key={c.at + c.to}>
                  {c.at}: {c.from === "0" ? "no leader" : nameOf(c.from)} → {c.to === "0" ? "no leader" : nameOf(c.to)}
                </li>
              ))}
            </ul>
          )}
        </Section>
      )}
    </>
  );
}
