// Watch: a key or a prefix, from now or from a revision, events with the old and the new value
// side by side; pause (the stream is closed and resumed after the last revision seen) and clear.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, type Json } from "../lib/api.ts";
import { lossy, utf8, toB64 } from "../lib/bytes.ts";
import { kvOf, prefixRange, type Kv } from "../lib/keys.ts";
import type { Session } from "../lib/session.ts";
import { ErrorBox, Notice, Section } from "./common.tsx";

interface Event {
  n: number;
  type: "PUT" | "DELETE";
  revision: number;
  key: string;
  prev: Kv | undefined;
  kv: Kv;
}

const MAX_EVENTS = 500;

export function WatchView(_: { session: Session }) {
  const [key, setKey] = useState("");
  const [isPrefix, setIsPrefix] = useState(true);
  const [fromRev, setFromRev] = useState("");
  const [events, setEvents] = useState<Event[]>([]);
  const [state, setState] = useState<"stopped" | "watching" | "paused">("stopped");
  const [error, setError] = useState<unknown>();
  const [note, setNote] = useState<string | undefined>();
  const stream = useRef<AbortController | undefined>(undefined);
  const lastRev = useRef(0);
  const counter = useRef(0);

  const stop = () => {
    stream.current?.abort();
    stream.current = undefined;
  };
  useEffect(() => stop, []);

  const start = (startRevision: number) => {
    stop();
    setError(undefined);
    setNote(undefined);
    const ac = new AbortController();
    stream.current = ac;
    const k = utf8(key);
    const { key: from, end } = isPrefix ? prefixRange(k) : { key: k, end: new Uint8Array(0) };
    const req: Json = { create_request: { key: toB64(from), range_end: toB64(end), prev_kv: true, start_revision: startRevision } };
    setState("watching");
    api
      .stream(
        "/v3/watch",
        req,
        (r) => {
          if (r.created === true) {
            setNote(`Watching ${isPrefix ? `prefix ${key || "(all keys)"}` : key} from ${startRevision > 0 ? `revision ${startRevision}` : `now (revision ${Number(r.header?.revision ?? 0) + 1} on)`}.`);
          }
          if (r.canceled === true) {
            const reason = (r.cancel_reason as string | undefined) || (r.compact_revision ? `etcdserver: mvcc: required revision has been compacted (compacted at ${r.compact_revision})` : "watch canceled by the server");
            setError(new Error(reason));
            setState("stopped");
            ac.abort();
            return;
          }
          const evs = (r.events ?? []) as Json[];
          if (evs.length === 0) return;
          const add: Event[] = evs.map((e) => {
            const kv = kvOf(e.kv);
            lastRev.current = Math.max(lastRev.current, kv.modRevision);
            return { n: counter.current++, type: e.type === "DELETE" ? "DELETE" : "PUT", revision: kv.modRevision, key: lossy(kv.key), prev: e.prev_kv ? kvOf(e.prev_kv) : undefined, kv };
          });
          setEvents((old) => [...add.reverse(), ...old].slice(0, MAX_EVENTS));
        },
        ac.signal,
      )
      .catch((err: unknown) => {
        if (!ac.signal.aborted) {
          setError(err);
          setState("stopped");
        }
      });
  };

  return (
    <Section title="Watch">
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          lastRev.current = 0;
          start(fromRev.trim() === "" ? 0 : Number(fromRev));
        }}
      >
        <input class="mono" placeholder="key or prefix" value={key} onInput={(e) => setKey(e.currentTarget.value)} data-testid="watch-key" />
        <label class="inline">
          <input type="checkbox" checked={isPrefix} onChange={(e) => setIsPrefix(e.currentTarget.checked)} data-testid="watch-prefix" /> prefix
        </label>
        <input class="narrow" placeholder="from revision (empty: now)" value={fromRev} onInput={(e) => setFromRev(e.currentTarget.value)} data-testid="watch-rev" />
        <button type="submit" class="primary" data-testid="watch-start">
          {state === "stopped" ? "Watch" : "Restart"}
        </button>
        {state === "watching" && (
          <button
            type="button"
            data-testid="watch-pause"
            onClick={() => {
              stop();
              setState("paused");
            }}
          >
            Pause
          </button>
        )}
        {state === "paused" && (
          <button type="button" data-testid="watch-resume" onClick={() => start(lastRev.current + 1)}>
            Resume
          </button>
        )}
        {state !== "stopped" && (
          <button
            type="button"
            data-testid="watch-stop"
            onClick={() => {
              stop();
              setState("stopped");
            }}
          >
            Stop
          </button>
        )}
        <button type="button" onClick={() => setEvents([])} data-testid="watch-clear">
          Clear
        </button>
      </form>
      <p class="muted" data-testid="watch-state">
        {state}
        {state === "paused" ? ` (resumes after revision ${lastRev.current})` : ""}
      </p>
      {note !== undefined && state !== "stopped" && <Notice testid="watch-created">{note}</Notice>}
      <ErrorBox error={error} />
      <table class="grid" data-testid="watch-events">
        <thead>
          <tr>
            <th>Revision</th>
            <th>Event</th>
            <th>Key</th>
            <th>Old value</th>
            <th>New value</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.n} class={e.type === "DELETE" ? "del" : ""} data-testid="watch-event">
              <td>{e.revision}</td>
              <td>{e.type}</td>
              <td class="mono">{e.key}</td>
              <td class="mono clip" data-testid="old-value">
                {e.prev ? lossy(e.prev.value) : <span class="muted">—</span>}
              </td>
              <td class="mono clip" data-testid="new-value">
                {e.type === "DELETE" ? <span class="muted">(deleted)</span> : lossy(e.kv.value)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}
