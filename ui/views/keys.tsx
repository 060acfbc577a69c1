// Keys: a tree by "/" and a flat range view, both read in pages from the member (never the
// whole keyspace), a prefix search, the key editor, delete of a prefix with its count, and
// export/import. A user whose roles cover only some ranges starts from those ranges.
import { useEffect, useState } from "preact/hooks";
import { equal, lossy, prefixEnd, successor, utf8 } from "../lib/bytes.ts";
import { countRange, deleteRange, prefixRange, rangePage, treeChildren, type Child, type Kv } from "../lib/keys.ts";
import { describeGrant, may, type Grant, type Session } from "../lib/session.ts";
import { Confirm, ErrorBox, Notice, Section, useAction } from "./common.tsx";
import { KeyEditor } from "./key-editor.tsx";
import { ExportImport } from "./key-io.tsx";

export const PAGE = 50;

type Mode = "tree" | "flat";

/** A grant's keys: a prefix is browsed as a tree, a range, an open end or a single key as a list. */
function GrantKeys({ g, onOpen, refresh, selected }: { g: Grant; onOpen: (k: Uint8Array) => void; refresh: number; selected: Uint8Array | undefined }) {
  if (g.end.length > 0 && equal(g.end, prefixEnd(g.key))) return <Tree root={g.key} end={g.end} onOpen={onOpen} refresh={refresh} selected={selected} />;
  const end = g.end.length === 0 ? successor(g.key) : g.end;
  return (
    <div class="tree">
      <div class="tree-root mono">{describeGrant(g)}</div>
      <FlatList from={g.key} end={end} label="" onOpen={onOpen} refresh={refresh} selected={selected} />
    </div>
  );
}

export function KeysView({ session }: { session: Session }) {
  const [mode, setMode] = useState<Mode>("tree");
  const [selected, setSelected] = useState<Uint8Array | undefined>();
  const [creating, setCreating] = useState(false);
  const [refresh, setRefresh] = useState(0);
  const [prefix, setPrefix] = useState("");
  const [applied, setApplied] = useState("");
  const [savedNotice, setSavedNotice] = useState<string | undefined>();
  const readable = session.grants.filter((g) => g.read);

  const open = (k: Uint8Array) => {
    setSavedNotice(undefined);
    setCreating(false);
    setSelected(k);
  };
  return (
    <div class="keys">
      <div class="keys-list">
        <Section
          title="Keys"
          actions={
            <>
              <button class={mode === "tree" ? "on" : ""} onClick={() => setMode("tree")} data-testid="mode-tree">
                Tree
              </button>
              <button class={mode === "flat" ? "on" : ""} onClick={() => setMode("flat")} data-testid="mode-flat">
                Flat
              </button>
              {(session.admin || session.grants.some((g) => g.write)) && (
                <button
                  onClick={() => {
                    setSelected(undefined);
                    setCreating(true);
                  }}
                  data-testid="new-key"
                >
                  New key
                </button>
              )}
            </>
          }
        >
          {!session.admin && (
            <Notice testid="grants">
              {session.user}'s access:{" "}
              {session.grants.length === 0 ? "no key permissions" : session.grants.map((g) => `${describeGrant(g)} ${g.read && g.write ? "read/write" : g.read ? "read" : "write"}`).join(", ")}
            </Notice>
          )}
          <form
            class="row"
            onSubmit={(e) => {
              e.preventDefault();
              setApplied(prefix);
              setMode("flat");
            }}
          >
            <input placeholder="prefix, e.g. /app/ (empty: all keys)" value={prefix} onInput={(e) => setPrefix(e.currentTarget.value)} data-testid="search-prefix" />
            <button type="submit" data-testid="search">
              Search
            </button>
          </form>
          {mode === "flat" ? (
            <FlatList {...flatOf(utf8(applied))} onOpen={open} refresh={refresh} selected={selected} />
          ) : session.admin ? (
            <Tree root={new Uint8Array(0)} end={new Uint8Array([0])} onOpen={open} refresh={refresh} selected={selected} />
          ) : (
            readable.map((g) => <GrantKeys key={describeGrant(g)} g={g} onOpen={open} refresh={refresh} selected={selected} />)
          )}
        </Section>
        <PrefixTools session={session} prefix={utf8(applied)} onDone={() => setRefresh((n) => n + 1)} />
      </div>
      <div class="keys-detail">
        {(selected !== undefined || creating) && (
          <KeyEditor
            key={selected === undefined ? "new" : lossy(selected)}
            keyBytes={selected}
            canWrite={selected === undefined ? session.admin || session.grants.some((g) => g.write) : may(session, "write", selected, new Uint8Array(0))}
            notice={savedNotice}
            onSaved={(k, notice) => {
              setSavedNotice(notice);
              setCreating(false);
              setSelected(k);
              setRefresh((n) => n + 1);
            }}
            onDeleted={() => {
              setSelected(undefined);
              setRefresh((n) => n + 1);
            }}
          />
        )}
      </div>
    </div>
  );
}

/** The flat view of a prefix ("": all keys). */
function flatOf(prefix: Uint8Array): { from: Uint8Array; end: Uint8Array; label: string } {
  const { key, end } = prefixRange(prefix);
  return { from: key, end, label: prefix.length === 0 ? "" : ` with prefix ${lossy(prefix)}` };
}

/** Keys in [from, end), PAGE at a time, next/previous by key. */
function FlatList(props: { from: Uint8Array; end: Uint8Array; label: string; onOpen: (k: Uint8Array) => void; refresh: number; selected: Uint8Array | undefined }) {
  const { from: first, end, label, onOpen, refresh, selected } = props;
  const [starts, setStarts] = useState<Uint8Array[]>([first]);
  const [kvs, setKvs] = useState<Kv[]>([]);
  const [count, setCount] = useState(0);
  const [total, setTotal] = useState(0);
  const [more, setMore] = useState(false);
  const act = useAction();
  const from = starts[starts.length - 1]!;
  const pfx = lossy(first) + "\u0000" + lossy(end);

  useEffect(() => setStarts([first]), [pfx]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    void act.run(async () => {
      const p = await rangePage(from, end, PAGE);
      setKvs(p.kvs);
      setCount(p.count);
      setMore(p.more);
      if (starts.length === 1) setTotal(p.count);
    });
  }, [from, refresh, pfx]); // eslint-disable-line react-hooks/exhaustive-deps

  const firstIndex = total - count;
  return (
    <div data-testid="flat-list">
      <ErrorBox error={act.error} />
      <p class="muted" data-testid="page-info">
        {kvs.length === 0 ? "no keys" : `keys ${firstIndex + 1}–${firstIndex + kvs.length} of ${total}`}
        {label}
      </p>
      <ul class="keylist">
        {kvs.map((kv) => (
          <li key={lossy(kv.key)}>
            <button class={`link mono ${selected && lossy(selected) === lossy(kv.key) ? "on" : ""}`} onClick={() => onOpen(kv.key)} data-testid="key-item">
              {lossy(kv.key)}
            </button>{" "}
            <span class="muted">rev {kv.modRevision}</span>
          </li>
        ))}
      </ul>
      <div class="row">
        <button disabled={starts.length === 1 || act.busy} onClick={() => setStarts((s) => s.slice(0, -1))} data-testid="prev-page">
          Previous
        </button>
        <button disabled={!more || act.busy} onClick={() => setStarts((s) => [...s, successor(kvs[kvs.length - 1]!.key)])} data-testid="next-page">
          Next
        </button>
      </div>
    </div>
  );
}

/** One level of the "/" tree under `root`, expandable. */
function Tree(props: { root: Uint8Array; end: Uint8Array; onOpen: (k: Uint8Array) => void; refresh: number; selected: Uint8Array | undefined; nested?: boolean }) {
  const { root, end, onOpen, refresh, selected } = props;
  const [children, setChildren] = useState<Child[]>([]);
  const [next, setNext] = useState<Uint8Array | undefined>();
  const [openDirs, setOpenDirs] = useState<Set<string>>(new Set());
  const act = useAction();
  const start = root.length === 0 ? new Uint8Array([0]) : root;

  const load = (from: Uint8Array, append: boolean) =>
    act.run(async () => {
      const r = await treeChildren(root, from, PAGE, end);
      setChildren((c) => (append ? [...c, ...r.children] : r.children));
      setNext(r.next);
    });
  useEffect(() => void load(start, false), [refresh, lossy(root)]); // eslint-disable-line react-hooks/exhaustive-deps

  const label = (c: Child) => lossy(c.name.subarray(root.length)) || "/";
  return (
    <div class="tree" data-testid={`tree-${lossy(root) || "root"}`}>
      {root.length > 0 && props.nested !== true && <div class="tree-root mono">{lossy(root)}</div>}
      <ErrorBox error={act.error} />
      <ul>
        {children.map((c) => {
          const name = lossy(c.name);
          if (!c.dir) {
            return (
              <li key={name}>
                <button class={`link mono ${selected && lossy(selected) === name ? "on" : ""}`} onClick={() => onOpen(c.name)} data-testid="tree-key">
                  {label(c)}
                </button>
              </li>
            );
          }
          const isOpen = openDirs.has(name);
          return (
            <li key={name}>
              <button
                class="link mono dir"
                data-testid="tree-dir"
                onClick={() =>
                  setOpenDirs((s) => {
                    const n = new Set(s);
                    if (isOpen) n.delete(name);
                    else n.add(name);
                    return n;
                  })
                }
              >
                {isOpen ? "▾ " : "▸ "}
                {label(c)}
              </button>
              {isOpen && <Tree root={c.name} end={prefixEnd(c.name)} onOpen={onOpen} refresh={refresh} selected={selected} nested />}
            </li>
          );
        })}
      </ul>
      {children.length === 0 && !act.busy && act.error === undefined && <p class="muted">(empty)</p>}
      {next !== undefined && (
        <button class="link" disabled={act.busy} onClick={() => void load(next, true)} data-testid="tree-more">
          more…
        </button>
      )}
    </div>
  );
}

/** Delete every key with the searched prefix (after a confirmation naming the count), export, import. */
function PrefixTools({ session, prefix, onDone }: { session: Session; prefix: Uint8Array; onDone: () => void }) {
  const [pending, setPending] = useState<number | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const act = useAction();
  const pfx = lossy(prefix);
  const { key, end } = prefixRange(prefix);
  const canRead = may(session, "read", key, end);
  const canWrite = may(session, "write", key, end);
  if (!canRead && !canWrite) {
    return (
      <Section title={pfx === "" ? "All keys" : `Prefix ${pfx}`}>
        <p class="muted" data-testid="prefix-tools-hidden">
          Search a prefix inside your permissions to delete, export or import it.
        </p>
      </Section>
    );
  }
  return (
    <Section title={pfx === "" ? "All keys" : `Prefix ${pfx}`}>
      <div class="row" hidden={!canWrite}>
        <button
          class="danger"
          disabled={act.busy}
          data-testid="delete-prefix"
          onClick={() =>
            void act.run(async () => {
              setDone(undefined);
              setPending(await countRange(key, end));
            })
          }
        >
          Delete {pfx === "" ? "all keys" : "prefix"}…
        </button>
      </div>
      {pending !== undefined && (
        <Confirm
          question={pending === 0 ? `No keys ${pfx === "" ? "at all" : `with prefix ${pfx}`}.` : `Delete ${pending} key${pending === 1 ? "" : "s"} ${pfx === "" ? "(the whole keyspace)" : `with prefix ${pfx}`}? This cannot be undone.`}
          confirmLabel={`Delete ${pending} keys`}
          onCancel={() => setPending(undefined)}
          onConfirm={() =>
            void act.run(async () => {
              const n = await deleteRange(key, end);
              setPending(undefined);
              setDone(`Deleted ${n} key${n === 1 ? "" : "s"}.`);
              onDone();
            })
          }
        />
      )}
      {done !== undefined && <Notice testid="prefix-deleted">{done}</Notice>}
      <ErrorBox error={act.error} />
      <ExportImport prefix={prefix} onImported={onDone} canRead={canRead} canWrite={canWrite} />
    </Section>
  );
}
