// Scripted tests of the v2 store (test/v2store/testdata/*.txt): each line drives the store, the
// expected output sits below it. REWRITE=1 regenerates the files (review the diff).
//
// Commands (paths are store paths; values have no spaces):
//   set <path> [value=v] [dir] [ttl=s] [refresh]
//   create <path> [value=v] [dir] [unique] [ttl=s]
//   update <path> [value=v] [ttl=s] [refresh]      (ttl= with no number: make permanent)
//   cas <path> [value=v] [prevValue=x] [prevIndex=n] [ttl=s] [refresh]
//   delete <path> [dir] [recursive]
//   cad <path> [prevValue=x] [prevIndex=n]
//   get <path> [recursive] [sorted]
//   tick <ms>                 advance the clock
//   expire                    SYNC at the current time (deleteExpiredKeys)
//   watch <name> <path> [recursive] [stream] [since=n]
//   events <name>             the events a watcher holds now (and whether it ended)
//   stats | index | history
//   reload                    write the journal to a state file, open a new store from it
import { afterAll, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { V2Error } from "../../src/rpctypes/v2.ts";
import { type InStatement, SqlDb } from "../../src/storage/sql-db.ts";
import { stateDdl } from "../../src/storage/schema.ts";
import {
  changeStatements,
  eventJson,
  LOAD_QUERIES,
  loadStore,
  PERMANENT,
  type V2Event,
  V2Store,
  type V2Watcher,
  WatcherHub,
} from "../../src/v2store/index.ts";
import { makeTempDir, removeDir } from "../helpers/temp-dir.ts";
import { type CmdArg, runFile, type TestCase } from "../raft/harness/datadriven.ts";

const dir = join(import.meta.dir, "testdata");
const tmp = makeTempDir("v2store-scripts");
afterAll(() => removeDir(tmp));

const START = Date.UTC(2026, 0, 1, 12, 0, 0);

function arg(args: readonly CmdArg[], key: string): string | undefined {
  const a = args.find((x) => x.key === key);
  return a === undefined ? undefined : a.vals.join(",");
}

function flag(args: readonly CmdArg[], key: string): boolean {
  return args.some((x) => x.key === key);
}

class Env {
  now = START;
  readonly hub = new WatcherHub();
  store: V2Store;
  readonly db: SqlDb;
  readonly watchers = new Map<string, V2Watcher>();

  constructor(file: string) {
    this.db = new SqlDb(join(tmp, `${file}.db`));
    for (const d of stateDdl) this.db.execute(d);
    this.store = this.newStore();
  }

  newStore(): V2Store {
    return new V2Store({ now: () => this.now, namespaces: ["/0", "/1"], hub: this.hub, historyCapacity: 5 });
  }

  expire(args: readonly CmdArg[]): number {
    const t = arg(args, "ttl");
    if (t === undefined || t === "") return PERMANENT;
    return this.now + Number(t) * 1000;
  }

  handle(tc: TestCase): string {
    const a = tc.args;
    const path = a[0]?.key ?? "";
    const value = arg(a, "value") ?? "";
    const ttl = { expireTime: this.expire(a), refresh: flag(a, "refresh") };
    try {
      switch (tc.cmd) {
        case "set":
          return show(this.store.set(path, flag(a, "dir"), value, ttl), this.store);
        case "create":
          return show(this.store.create(path, flag(a, "dir"), value, flag(a, "unique"), ttl), this.store);
        case "update":
          return show(this.store.update(path, value, ttl), this.store);
        case "cas":
          return show(this.store.compareAndSwap(path, arg(a, "prevValue") ?? "", Number(arg(a, "prevIndex") ?? 0), value, ttl), this.store);
        case "delete":
          return show(this.store.delete(path, flag(a, "dir"), flag(a, "recursive")), this.store);
        case "cad":
          return show(this.store.compareAndDelete(path, arg(a, "prevValue") ?? "", Number(arg(a, "prevIndex") ?? 0)), this.store);
        case "get":
          return show(this.store.get(path, flag(a, "recursive"), flag(a, "sorted")), this.store);
        case "tick":
          this.now += Number(path);
          return "ok";
        case "expire": {
          const evs = this.store.deleteExpiredKeys(this.now);
          return evs.length === 0 ? "none" : evs.map((e) => show(e, this.store)).join("\n");
        }
        case "watch": {
          const name = path;
          const w = this.store.watch(a[1]?.key ?? "/", flag(a, "recursive"), flag(a, "stream"), Number(arg(a, "since") ?? 0));
          this.watchers.set(name, w);
          return `watching since=${w.sinceIndex} start=${w.startIndex} hub=${this.hub.count}`;
        }
        case "events": {
          const w = this.watchers.get(path);
          if (w === undefined) throw new Error(`no watcher ${path}`);
          const out: string[] = [];
          for (let e = w.poll(); e !== undefined; e = w.poll()) out.push(eventJson(e));
          out.push(w.isEnded ? "ended" : "waiting");
          return out.join("\n");
        }
        case "stats":
          return this.store.stats.json(this.hub.count);
        case "index":
          return String(this.store.index);
        case "history":
          return `start=${this.store.history.startIndex} last=${this.store.history.lastIndex} size=${this.store.history.length}`;
        case "reload":
          return this.reload();
        default:
          throw new Error(`unknown command ${tc.cmd}`);
      }
    } catch (e) {
      if (e instanceof V2Error) return `error ${e.errorCode}: ${e.message} (${e.cause}) [${e.index}]`;
      throw e;
    }
  }

  /** Persists the journal, then replaces the store by one read back from the file. */
  reload(): string {
    const stmts: InStatement[] = [];
    changeStatements(this.store, this.store.takeChanges(), stmts);
    this.db.batch(stmts);
    const before = dump(this.store);
    const fresh = this.newStore();
    loadStore(fresh, {
      index: this.db.execute(LOAD_QUERIES.index).rows,
      nodes: this.db.execute(LOAD_QUERIES.nodes).rows,
      events: this.db.execute(LOAD_QUERIES.events).rows,
    });
    this.store = fresh;
    const after = dump(fresh);
    return before === after ? `reloaded index=${fresh.index} events=${fresh.history.length}` : `MISMATCH\n${before}\n---\n${after}`;
  }
}

function show(e: V2Event, s: V2Store): string {
  return `${eventJson(e)} etcdIndex=${e.etcdIndex} index=${s.index}`;
}

/** Everything the store would answer: the whole tree (hidden nodes too) and the history. */
function dump(s: V2Store): string {
  const lines: string[] = [`index=${s.index}`];
  const walk = (n: V2Store["root"]) => {
    lines.push(`${n.path} dir=${n.isDir} value=${n.value} c=${n.createdIndex} m=${n.modifiedIndex} exp=${n.expireTime}`);
    if (n.children) for (const c of [...n.children.values()].sort((x, y) => (x.path < y.path ? -1 : 1))) walk(c);
  };
  walk(s.root);
  for (const e of s.history.events()) lines.push(`event ${eventJson(e)} refresh=${e.refresh === true}`);
  return lines.join("\n");
}

for (const file of readdirSync(dir).filter((f) => f.endsWith(".txt")).sort()) {
  test(`v2store script ${file}`, () => {
    const env = new Env(file);
    try {
      const { failures } = runFile(join(dir, file), (tc) => env.handle(tc));
      if (failures.length > 0) console.error(failures.join("\n\n"));
      expect(failures).toEqual([]);
    } finally {
      env.db.close();
    }
  });
}
