// Members (root only): add a voter or a learner (then the complete start command, as flags and
// as ETCD_* lines), promote, remove, update peer URLs, move leadership to a member; alarms with
// disarm; compaction; defragment per member; snapshot download.
import { useState } from "preact/hooks";
import { envLines, startCommand, type AddedMember } from "../../src/client/member-start.ts";
import { api, type Json } from "../lib/api.ts";
import { decId, hexId, humanBytes } from "../lib/bytes.ts";
import { leaderOf, listMembers, withStatus, type MemberRow } from "../lib/cluster.ts";
import type { Session } from "../lib/session.ts";
import { Confirm, ErrorBox, Notice, saveFile, Section, useAction, usePoll } from "./common.tsx";

export function MembersView({ session }: { session: Session }) {
  const cid = session.info.clusterId;
  const [rows, setRows] = useState<MemberRow[]>([]);
  const [alarms, setAlarms] = useState<Json[]>([]);
  const [revision, setRevision] = useState(0);
  const [notice, setNotice] = useState<string | undefined>();
  const [added, setAdded] = useState<AddedMember | undefined>();
  const [reload, setReload] = useState(0);
  const act = useAction();

  const error = usePoll(
    async (signal) => {
      const { members } = await listMembers(signal);
      const full = await withStatus(members, signal);
      setRows(full);
      // MemberList's header carries no revision (as in etcd); Status's does.
      setRevision(Math.max(0, ...full.map((m) => Number(m.status?.header?.revision ?? 0))));
      const a = await api.call("/v3/maintenance/alarm", { action: "GET" }, signal);
      setAlarms((a.alarms ?? []) as Json[]);
    },
    3000,
    [reload],
  );

  const run = (fn: () => Promise<string>) =>
    act.run(async () => {
      setNotice(undefined);
      setNotice(await fn());
      setReload((n) => n + 1);
    });
  const leader = leaderOf(rows);
  const nameOf = (id: string) => rows.find((r) => r.id === id)?.name || id;

  return (
    <>
      <Section title="Members">
        {notice !== undefined && <Notice testid="members-notice">{notice}</Notice>}
        <ErrorBox error={act.error ?? error} />
        <table class="grid" data-testid="members-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>ID</th>
              <th>Status</th>
              <th>Peer URLs</th>
              <th>Client URLs</th>
              <th>DB</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((m) => (
              <MemberRowView key={m.id} m={m} leader={leader} run={run} busy={act.busy} cid={cid} />
            ))}
          </tbody>
        </table>
      </Section>
      <AddMember
        busy={act.busy}
        onAdded={(a, learner) => {
          setAdded(a);
          setNotice(`Member ${hexId(a.id)} added to cluster ${cid}${learner ? " as a learner" : ""}`);
          setReload((n) => n + 1);
        }}
        run={act.run}
      />
      {added !== undefined && <StartCommand added={added} />}
      <Section title="Alarms">
        {alarms.length === 0 ? (
          <p class="muted" data-testid="no-alarms">
            No alarms.
          </p>
        ) : (
          <ul data-testid="alarm-list">
            {alarms.map((a) => (
              <li key={`${a.memberID}${a.alarm}`}>
                {a.alarm} on {nameOf(hexId(a.memberID))}{" "}
                <button
                  disabled={act.busy}
                  onClick={() => void run(async () => (await api.call("/v3/maintenance/alarm", { action: "DEACTIVATE", memberID: a.memberID, alarm: a.alarm }), `Alarm ${a.alarm} disarmed`))}
                  data-testid="alarm-disarm"
                >
                  Disarm
                </button>
              </li>
            ))}
          </ul>
        )}
      </Section>
      <Maintenance revision={revision} run={run} busy={act.busy} />
    </>
  );
}

function MemberRowView({ m, leader, run, busy, cid }: { m: MemberRow; leader: string; run: (fn: () => Promise<string>) => Promise<void>; busy: boolean; cid: string }) {
  const [editing, setEditing] = useState(false);
  const [urls, setUrls] = useState(m.peerURLs.join(","));
  const [confirm, setConfirm] = useState(false);
  const started = m.clientURLs.length > 0;
  const status = m.isLearner ? "learner" : m.id === leader ? "leader" : started ? "follower" : "unstarted";
  return (
    <tr data-testid={`mrow-${m.name || m.id}`}>
      <td>{m.name || <span class="muted">(unstarted)</span>}</td>
      <td class="mono">{m.id}</td>
      <td data-testid="mstatus">
        {status}
        {m.error ? <span class="bad"> ({m.error.message})</span> : ""}
      </td>
      <td class="mono">
        {editing ? (
          <>
            <input class="mono" value={urls} onInput={(e) => setUrls(e.currentTarget.value)} data-testid="peer-urls-edit" />
            <button
              disabled={busy}
              onClick={() =>
                void run(async () => {
                  await api.call("/v3/cluster/member/update", { ID: decId(m.id), peerURLs: urls.split(",").map((u) => u.trim()) });
                  setEditing(false);
                  return `Member ${m.id} updated in cluster ${cid}`;
                })
              }
              data-testid="peer-urls-save"
            >
              Save
            </button>
          </>
        ) : (
          m.peerURLs.join(", ")
        )}
      </td>
      <td class="mono">{m.clientURLs.join(", ")}</td>
      <td>{m.status ? humanBytes(Number(m.status.dbSize ?? 0)) : ""}</td>
      <td class="actions">
        {m.isLearner && (
          <button disabled={busy} onClick={() => void run(async () => (await api.call("/v3/cluster/member/promote", { ID: decId(m.id) }), `Member ${m.id} promoted in cluster ${cid}`))} data-testid="promote">
            Promote
          </button>
        )}
        {!m.isLearner && started && m.id !== leader && leader !== "0" && (
          <button
            disabled={busy}
            onClick={() =>
              void run(async () => {
                // MoveLeader must reach the leader (etcdctl move-leader finds it the same way).
                await api.call(`/ui/api/members/${leader}/transfer-leadership`, { targetID: decId(m.id) });
                return `Leadership transferred to ${m.name || m.id}`;
              })
            }
            data-testid="make-leader"
          >
            Make leader
          </button>
        )}
        {started && (
          <button disabled={busy} onClick={() => void run(async () => (await api.call(`/ui/api/members/${m.id}/defragment`, {}), `Finished defragmenting etcd member[${m.clientURLs[0]}]`))} data-testid="defrag">
            Defragment
          </button>
        )}
        <button onClick={() => setEditing((e) => !e)} data-testid="update-peer-urls">
          Peer URLs…
        </button>
        <button class="danger" disabled={busy} onClick={() => setConfirm(true)} data-testid="remove">
          Remove
        </button>
        {confirm && (
          <Confirm
            question={`Remove member ${m.name || m.id} from the cluster?`}
            confirmLabel="Remove member"
            onCancel={() => setConfirm(false)}
            onConfirm={() =>
              void run(async () => {
                setConfirm(false);
                await api.call("/v3/cluster/member/remove", { ID: decId(m.id) });
                return `Member ${m.id} removed from cluster ${cid}`;
              })
            }
          />
        )}
      </td>
    </tr>
  );
}

function AddMember({ busy, onAdded, run }: { busy: boolean; onAdded: (a: AddedMember, learner: boolean) => void; run: (fn: () => Promise<void>) => Promise<void> }) {
  const [name, setName] = useState("");
  const [urls, setUrls] = useState("");
  const [learner, setLearner] = useState(true);
  return (
    <Section title="Add a member">
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void run(async () => {
            if (name.trim() === "") throw new Error("member name not provided");
            const peerURLs = urls.split(",").map((u) => u.trim()).filter((u) => u !== "");
            if (peerURLs.length === 0) throw new Error("member peer urls not provided");
            const r = await api.call("/v3/cluster/member/add", { peerURLs, isLearner: learner });
            const id = String((r.member as Json).ID);
            setName("");
            setUrls("");
            onAdded(
              { name: name.trim(), peerURLs, id, members: ((r.members ?? []) as Json[]).map((m) => ({ id: String(m.ID), name: (m.name as string | undefined) ?? "", peerURLs: (m.peerURLs ?? []) as string[] })) },
              learner,
            );
          });
        }}
      >
        <input placeholder="name" value={name} onInput={(e) => setName(e.currentTarget.value)} data-testid="add-name" />
        <input class="mono wide" placeholder="peer URLs, e.g. http://10.0.0.4:2380" value={urls} onInput={(e) => setUrls(e.currentTarget.value)} data-testid="add-peer-urls" />
        <label class="inline">
          <input type="checkbox" checked={learner} onChange={(e) => setLearner(e.currentTarget.checked)} data-testid="add-learner" /> as a learner (recommended: promote once it caught up)
        </label>
        <button type="submit" class="primary" disabled={busy} data-testid="add-member">
          Add member
        </button>
      </form>
    </Section>
  );
}

function StartCommand({ added }: { added: AddedMember }) {
  const flags = startCommand(added, { dataDir: `${added.name}.conclave` });
  const env = envLines(added).join("\n");
  return (
    <Section title={`Start ${added.name}`}>
      <p>Start the new member on its machine with this command (adjust the client URLs if needed):</p>
      <textarea class="mono copy" readonly rows={4} value={flags} data-testid="start-flags" onFocus={(e) => e.currentTarget.select()} />
      <p>or with these environment variables (etcdctl member add prints the same):</p>
      <textarea class="mono copy" readonly rows={4} value={env} data-testid="start-env" onFocus={(e) => e.currentTarget.select()} />
      <p class="muted">Member ID {hexId(added.id)}.</p>
    </Section>
  );
}

function Maintenance({ revision, run, busy }: { revision: number; run: (fn: () => Promise<string>) => Promise<void>; busy: boolean }) {
  const [rev, setRev] = useState("");
  const [physical, setPhysical] = useState(false);
  const [snapshot, setSnapshot] = useState<string | undefined>();
  const act = useAction();
  const download = () =>
    act.run(async () => {
      setSnapshot("receiving…");
      const res = await api.post("/ui/api/snapshot", {});
      const blob = await res.blob();
      const name = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") ?? "")?.[1] ?? "snapshot.db";
      saveFile(name, blob);
      setSnapshot(`Snapshot saved as ${name} (${humanBytes(blob.size)}).`);
    });
  return (
    <Section title="Maintenance">
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          const target = rev.trim() === "" ? revision : Number(rev);
          void run(async () => (await api.call("/v3/kv/compaction", { revision: target, physical }), `compacted revision ${target}`));
        }}
      >
        <label class="inline">
          Compact up to revision <input class="narrow" placeholder={String(revision)} value={rev} onInput={(e) => setRev(e.currentTarget.value)} data-testid="compact-rev" />
        </label>
        <label class="inline">
          <input type="checkbox" checked={physical} onChange={(e) => setPhysical(e.currentTarget.checked)} /> physical
        </label>
        <button type="submit" disabled={busy || (rev.trim() === "" && revision === 0)} data-testid="compact">
          Compact
        </button>
      </form>
      <div class="row">
        <button disabled={act.busy} onClick={() => void download()} data-testid="snapshot">
          Download a snapshot
        </button>
      </div>
      {snapshot !== undefined && <Notice testid="snapshot-notice">{snapshot}</Notice>}
      <ErrorBox error={act.error} />
    </Section>
  );
}
