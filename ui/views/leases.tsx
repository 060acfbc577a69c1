// Leases: the list with the remaining TTL counting down (re-read every 5 s), attached keys,
// grant, keep-alive once, revoke.
import { useState } from "preact/hooks";
import { api, type Json } from "../lib/api.ts";
import { decId, fromB64, hexLeaseId, lossy } from "../lib/bytes.ts";
import type { Session } from "../lib/session.ts";
import { ErrorBox, Notice, Section, useAction, usePoll } from "./common.tsx";

interface LeaseRow {
  id: string; // decimal
  granted: number;
  ttl: number; // remaining at `readAt`
  readAt: number;
  keys: string[];
}

/** Leases whose details are read (the list itself can be long). */
const MAX_SHOWN = 100;

export function LeasesView(_: { session: Session }) {
  const [rows, setRows] = useState<LeaseRow[]>([]);
  const [total, setTotal] = useState(0);
  const [now, setNow] = useState(Date.now());
  const [ttl, setTtl] = useState("60");
  const [id, setId] = useState("");
  const [notice, setNotice] = useState<string | undefined>();
  const [reload, setReload] = useState(0);
  const act = useAction();

  const error = usePoll(
    async (signal) => {
      const r = await api.call("/v3/lease/leases", {}, signal);
      const ids = ((r.leases ?? []) as Json[]).map((l) => String(l.ID));
      setTotal(ids.length);
      const out: LeaseRow[] = [];
      for (const lid of ids.slice(0, MAX_SHOWN)) {
        const t = await api.call("/v3/lease/timetolive", { ID: lid, keys: true }, signal);
        if (Number(t.TTL ?? -1) < 0) continue; // expired between the two calls
        out.push({ id: lid, granted: Number(t.grantedTTL ?? 0), ttl: Number(t.TTL ?? 0), readAt: Date.now(), keys: ((t.keys ?? []) as string[]).map((k) => lossy(fromB64(k))) });
      }
      out.sort((a, b) => (a.id < b.id ? -1 : 1));
      setRows(out);
    },
    5000,
    [reload],
  );
  // The countdown between reads.
  usePoll(async () => setNow(Date.now()), 1000);

  const grant = () =>
    act.run(async () => {
      const r = await api.call("/v3/lease/grant", { TTL: Number(ttl), ID: id.trim() === "" ? "0" : decId(id) });
      setNotice(`lease ${hexLeaseId(r.ID)} granted with TTL(${r.TTL}s)`);
      setReload((n) => n + 1);
    });
  const keepAlive = (lid: string) =>
    act.run(async () => {
      const ac = new AbortController();
      let answer: Json | undefined;
      await api
        .stream(
          "/v3/lease/keepalive",
          { ID: lid },
          (res) => {
            answer = res;
            ac.abort();
          },
          ac.signal,
        )
        .catch((err: unknown) => {
          if (answer === undefined) throw err;
        });
      if (answer === undefined || Number(answer.TTL ?? 0) <= 0) throw new Error("etcdserver: requested lease not found");
      setNotice(`lease ${hexLeaseId(lid)} keepalived with TTL(${answer.TTL})`);
      setReload((n) => n + 1);
    });
  const revoke = (lid: string) =>
    act.run(async () => {
      await api.call("/v3/lease/revoke", { ID: lid });
      setNotice(`lease ${hexLeaseId(lid)} revoked`);
      setReload((n) => n + 1);
    });

  return (
    <Section title="Leases">
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void grant();
        }}
      >
        <label class="inline">
          TTL (s) <input class="narrow" value={ttl} onInput={(e) => setTtl(e.currentTarget.value)} data-testid="lease-ttl" />
        </label>
        <label class="inline">
          ID (hex, optional) <input class="narrow mono" value={id} onInput={(e) => setId(e.currentTarget.value)} data-testid="lease-id" />
        </label>
        <button type="submit" class="primary" disabled={act.busy} data-testid="lease-grant">
          Grant
        </button>
      </form>
      {notice !== undefined && <Notice testid="lease-notice">{notice}</Notice>}
      <ErrorBox error={act.error ?? error} />
      <p class="muted">
        {total} lease{total === 1 ? "" : "s"}
        {total > MAX_SHOWN ? ` (first ${MAX_SHOWN} shown)` : ""}
      </p>
      <table class="grid" data-testid="lease-table">
        <thead>
          <tr>
            <th>ID</th>
            <th>Granted TTL</th>
            <th>Remaining</th>
            <th>Keys</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map((l) => (
            <tr key={l.id} data-testid={`lease-${hexLeaseId(l.id)}`}>
              <td class="mono">{hexLeaseId(l.id)}</td>
              <td>{l.granted}s</td>
              <td data-testid="remaining">{Math.max(0, l.ttl - Math.floor((now - l.readAt) / 1000))}s</td>
              <td class="mono" data-testid="lease-keys">
                {l.keys.join(", ")}
              </td>
              <td>
                <button disabled={act.busy} onClick={() => void keepAlive(l.id)} data-testid="lease-keepalive">
                  Keep alive once
                </button>{" "}
                <button class="danger" disabled={act.busy} onClick={() => void revoke(l.id)} data-testid="lease-revoke">
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}
