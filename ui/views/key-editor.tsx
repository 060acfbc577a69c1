// One key: its metadata, its value as text / JSON / YAML / hex (validated before a save), a
// save that compares the mod revision (a concurrent change is refused, never overwritten), a
// delete with the same guard, and the key's history with a diff between two revisions.
import { useEffect, useState } from "preact/hooks";
import { decId, hexLeaseId, lossy, utf8 } from "../lib/bytes.ts";
import { diffLines } from "../lib/diff.ts";
import { detectFormat, encode, FORMATS, render, type ValueFormat } from "../lib/format.ts";
import { deleteIfUnchanged, getKey, putIfUnchanged, type Kv } from "../lib/keys.ts";
import { Confirm, ErrorBox, Notice, Section, useAction } from "./common.tsx";

export function KeyEditor(props: {
  keyBytes: Uint8Array | undefined;
  /** The user may write this key: Save and Delete are offered only then. */
  canWrite: boolean;
  notice?: string | undefined;
  onSaved: (k: Uint8Array, notice: string) => void;
  onDeleted: () => void;
}) {
  const { keyBytes, onSaved, onDeleted } = props;
  const isNew = keyBytes === undefined;
  const [kv, setKv] = useState<Kv | undefined>();
  const [newKey, setNewKey] = useState("");
  const [format, setFormat] = useState<ValueFormat>("text");
  const [textValue, setText] = useState("");
  const [lease, setLease] = useState("");
  const [confirmDelete, setConfirmDelete] = useState(false);
  // A new key's editor is replaced by the key's own once created: the notice carries over.
  const [saved, setSaved] = useState<string | undefined>(props.notice);
  const [showHistory, setShowHistory] = useState(false);
  const act = useAction();

  const load = () =>
    act.run(async () => {
      if (keyBytes === undefined) return;
      const { kv: cur } = await getKey(keyBytes);
      setKv(cur);
      if (cur === undefined) throw new Error(`${lossy(keyBytes)} does not exist (deleted meanwhile?)`);
      const f = detectFormat(cur.value);
      setFormat(f);
      setText(await render(cur.value, f));
      setLease(cur.lease === "0" ? "" : hexLeaseId(cur.lease));
    });
  useEffect(() => void load(), []); // eslint-disable-line react-hooks/exhaustive-deps

  const switchFormat = (f: ValueFormat) =>
    act.run(async () => {
      // Re-render the text being edited in the other format (it must be valid in the old one).
      const bytes = await encode(textValue, format);
      setText(await render(bytes, f));
      setFormat(f);
    });

  const save = () =>
    act.run(async () => {
      setSaved(undefined);
      const k = isNew ? utf8(newKey) : keyBytes;
      if (k.length === 0) throw new Error("etcdserver: key is not provided");
      const value = await encode(textValue, format);
      const leaseId = lease.trim() === "" ? "0" : decId(lease);
      const rev = await putIfUnchanged(k, value, isNew ? 0 : (kv?.modRevision ?? 0), leaseId, lossy(k));
      const notice = `Saved at revision ${rev}.`;
      setSaved(notice);
      const { kv: cur } = await getKey(k);
      setKv(cur);
      onSaved(k, notice);
    });

  const remove = () =>
    act.run(async () => {
      if (keyBytes === undefined || kv === undefined) return;
      await deleteIfUnchanged(keyBytes, kv.modRevision, lossy(keyBytes));
      setConfirmDelete(false);
      onDeleted();
    });

  const name = isNew ? "New key" : lossy(keyBytes);
  return (
    <Section title={name}>
      <div data-testid="key-editor">
        {isNew ? (
          <label>
            Key
            <input class="mono" value={newKey} onInput={(e) => setNewKey(e.currentTarget.value)} placeholder="/app/config (a leading / is optional)" data-testid="new-key-name" />
          </label>
        ) : (
          kv !== undefined && (
            <p class="muted" data-testid="key-meta">
              created at revision {kv.createRevision}, modified at {kv.modRevision}, version {kv.version}
              {kv.lease !== "0" ? `, lease ${hexLeaseId(kv.lease)}` : ""}
            </p>
          )
        )}
        <div class="row">
          {FORMATS.map((f) => (
            <button key={f} class={f === format ? "on" : ""} onClick={() => void switchFormat(f)} data-testid={`format-${f}`}>
              {f.toUpperCase()}
            </button>
          ))}
        </div>
        <textarea class="mono value" rows={14} value={textValue} readOnly={!props.canWrite} onInput={(e) => setText(e.currentTarget.value)} spellcheck={false} data-testid="value" />
        {!props.canWrite && <p class="muted" data-testid="read-only">Read only: your roles grant no write permission on this key.</p>}
        <label>
          Lease (hex ID, empty for none)
          <input class="mono" value={lease} onInput={(e) => setLease(e.currentTarget.value)} data-testid="lease" />
        </label>
        <div class="row">
          {props.canWrite && (
            <button class="primary" disabled={act.busy} onClick={() => void save()} data-testid="save">
              {isNew ? "Create" : "Save"}
            </button>
          )}
          {!isNew && (
            <>
              <button disabled={act.busy} onClick={() => void load()} data-testid="reload">
                Reload
              </button>
              {props.canWrite && (
                <button class="danger" disabled={act.busy || kv === undefined} onClick={() => setConfirmDelete(true)} data-testid="delete-key">
                  Delete
                </button>
              )}
              <button onClick={() => setShowHistory((s) => !s)} data-testid="history">
                History
              </button>
            </>
          )}
        </div>
        {confirmDelete && <Confirm question={`Delete the key ${name}?`} confirmLabel="Delete 1 key" onConfirm={() => void remove()} onCancel={() => setConfirmDelete(false)} />}
        {saved !== undefined && <Notice testid="saved">{saved}</Notice>}
        <ErrorBox error={act.error} />
        {showHistory && kv !== undefined && keyBytes !== undefined && <History keyBytes={keyBytes} latest={kv} />}
      </div>
    </Section>
  );
}

const HISTORY_DEPTH = 20;

/** Earlier versions of a key, newest first: each read at (its mod revision − 1), back to its creation or the compaction. */
function History({ keyBytes, latest }: { keyBytes: Uint8Array; latest: Kv }) {
  const [versions, setVersions] = useState<Kv[]>([latest]);
  const [note, setNote] = useState<string | undefined>();
  const [a, setA] = useState<number | undefined>();
  const [b, setB] = useState<number | undefined>(latest.modRevision);
  const act = useAction();

  useEffect(() => {
    void act.run(async () => {
      const out: Kv[] = [latest];
      let cur = latest;
      while (out.length < HISTORY_DEPTH && cur.version > 1) {
        try {
          const { kv } = await getKey(keyBytes, cur.modRevision - 1);
          if (kv === undefined) break;
          out.push(kv);
          cur = kv;
        } catch (err) {
          setNote(`Older versions are not available: ${(err as Error).message}`);
          break;
        }
      }
      setVersions(out);
      if (out.length > 1) setA(out[1]!.modRevision);
    });
  }, [latest.modRevision]); // eslint-disable-line react-hooks/exhaustive-deps

  const va = versions.find((v) => v.modRevision === a);
  const vb = versions.find((v) => v.modRevision === b);
  return (
    <div class="history" data-testid="history-panel">
      <h3>History</h3>
      <ErrorBox error={act.error} />
      {note !== undefined && <Notice>{note}</Notice>}
      <table class="grid">
        <thead>
          <tr>
            <th>Revision</th>
            <th>Version</th>
            <th>Value</th>
            <th>Diff from</th>
            <th>to</th>
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => (
            <tr key={v.modRevision} data-testid={`history-${v.modRevision}`}>
              <td>{v.modRevision}</td>
              <td>{v.version}</td>
              <td class="mono clip">{lossy(v.value).slice(0, 80)}</td>
              <td>
                <input type="radio" name="diff-a" checked={a === v.modRevision} onChange={() => setA(v.modRevision)} data-testid="diff-a" />
              </td>
              <td>
                <input type="radio" name="diff-b" checked={b === v.modRevision} onChange={() => setB(v.modRevision)} data-testid="diff-b" />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {va !== undefined && vb !== undefined && (
        <pre class="diff mono" data-testid="diff">
          {diffLines(lossy(va.value), lossy(vb.value)).map((l, i) => (
            <div key={i} class={l.op === "+" ? "add" : l.op === "-" ? "del" : ""}>
              {l.op} {l.text}
            </div>
          ))}
        </pre>
      )}
    </div>
  );
}
