// get, put, del, txn, compaction.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  CompareSchema, Compare_CompareResult, Compare_CompareTarget, DeleteRangeResponseSchema, KV, PutResponseSchema, RangeRequest_SortOrder,
  RangeRequest_SortTarget, RangeResponseSchema, RequestOpSchema, TxnResponseSchema, type Compare, type RequestOp, RangeRequestSchema,
  PutRequestSchema, DeleteRangeRequestSchema,
} from "../../../src/gen/rpc_pb.ts";
import { bytes, prefixEnd } from "../../../src/client/index.ts";
import type { Command, RunContext } from "../command.ts";
import { Exit, fail } from "../exit.ts";
import { FlagError, FlagSet, parseArgs, parseGoInt, type FlagDef } from "../flags.ts";
import { LineReader, outln, readStdin } from "../io.ts";
import { callOrFail } from "./util.ts";

const GET_FLAGS: FlagDef[] = [
  { name: "consistency", type: "string", def: "l", usage: "Linearizable(l) or Serializable(s)" },
  { name: "order", type: "string", def: "", usage: "Order of results; ASCEND or DESCEND (ASCEND by default)" },
  { name: "sort-by", type: "string", def: "", usage: "Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION" },
  { name: "limit", type: "int64", def: "0", usage: "Maximum number of results" },
  { name: "prefix", type: "bool", def: "false", usage: "Get keys with matching prefix" },
  { name: "from-key", type: "bool", def: "false", usage: "Get keys that are greater than or equal to the given key using byte compare" },
  { name: "rev", type: "int64", def: "0", usage: "Specify the kv revision" },
  { name: "keys-only", type: "bool", def: "false", usage: "Get only the keys" },
  { name: "print-value-only", type: "bool", def: "false", usage: `Only write values when using the "simple" output format` },
];
const PUT_FLAGS: FlagDef[] = [
  { name: "lease", type: "string", def: "0", usage: "lease ID (in hexadecimal) to attach to the key" },
  { name: "prev-kv", type: "bool", def: "false", usage: "return the previous key-value pair before modification" },
  { name: "ignore-value", type: "bool", def: "false", usage: "updates the key using its current value" },
  { name: "ignore-lease", type: "bool", def: "false", usage: "updates the key using its current lease" },
];
const DEL_FLAGS: FlagDef[] = [
  { name: "prefix", type: "bool", def: "false", usage: "delete keys with matching prefix" },
  { name: "prev-kv", type: "bool", def: "false", usage: "return deleted key-value pairs" },
  { name: "from-key", type: "bool", def: "false", usage: "delete keys that are greater than or equal to the given key using byte compare" },
];

const ZERO = new Uint8Array([0]);
type RangeInit = MessageInitShape<typeof RangeRequestSchema>;
type PutInit = MessageInitShape<typeof PutRequestSchema>;
type DelInit = MessageInitShape<typeof DeleteRangeRequestSchema>;

export function getRequest(args: string[], f: FlagSet): RangeInit {
  if (args.length === 0) fail(Exit.BadArgs, "get command needs one argument as key and an optional argument as range_end");
  const prefix = f.bool("prefix");
  const fromKey = f.bool("from-key");
  if (prefix && fromKey) fail(Exit.BadArgs, "`--prefix` and `--from-key` cannot be set at the same time, choose one");
  const req: RangeInit = {};
  const cons = f.string("consistency");
  if (cons === "s") req.serializable = true;
  else if (cons !== "l") fail(Exit.BadFeature, `unknown consistency flag ${JSON.stringify(cons)}`);
  let key = bytes(args[0]!);
  if (args.length > 1) {
    if (prefix || fromKey) fail(Exit.BadArgs, "too many arguments, only accept one argument when `--prefix` or `--from-key` is set");
    req.rangeEnd = bytes(args[1]!);
  }
  req.limit = f.int64("limit");
  if (f.int64("rev") > 0n) req.revision = f.int64("rev");
  const order = f.string("order").toUpperCase();
  let sortOrder = RangeRequest_SortOrder.NONE;
  if (order === "ASCEND") sortOrder = RangeRequest_SortOrder.ASCEND;
  else if (order === "DESCEND") sortOrder = RangeRequest_SortOrder.DESCEND;
  else if (order !== "") fail(Exit.BadFeature, `bad sort order ${f.string("order")}`);
  const targets: Record<string, RangeRequest_SortTarget> = {
    CREATE: RangeRequest_SortTarget.CREATE, KEY: RangeRequest_SortTarget.KEY, MODIFY: RangeRequest_SortTarget.MOD,
    VALUE: RangeRequest_SortTarget.VALUE, VERSION: RangeRequest_SortTarget.VERSION,
  };
  const st = f.string("sort-by").toUpperCase();
  let sortTarget = RangeRequest_SortTarget.KEY;
  if (st !== "") {
    if (!(st in targets)) fail(Exit.BadFeature, `bad sort target ${f.string("sort-by")}`);
    sortTarget = targets[st]!;
  }
  // clientv3.WithSort: a target other than KEY with no order means ascending.
  if (sortTarget !== RangeRequest_SortTarget.KEY && sortOrder === RangeRequest_SortOrder.NONE) sortOrder = RangeRequest_SortOrder.ASCEND;
  req.sortOrder = sortOrder;
  req.sortTarget = sortTarget;
  if (prefix) {
    if (key.length === 0) {
      key = ZERO;
      req.rangeEnd = ZERO;
    } else req.rangeEnd = prefixEnd(key);
  }
  if (fromKey) {
    if (key.length === 0) key = ZERO;
    req.rangeEnd = ZERO;
  }
  if (f.bool("keys-only")) req.keysOnly = true;
  req.key = key;
  return req;
}

export async function putRequest(args: string[], f: FlagSet, stdinAllowed: boolean): Promise<PutInit> {
  const need = "put command needs 1 argument and input from stdin or 2 arguments";
  if (args.length === 0) fail(Exit.BadArgs, need);
  const ignoreValue = f.bool("ignore-value");
  if (ignoreValue && args.length > 1) fail(Exit.BadArgs, "put command needs only 1 argument when 'ignore-value' is set");
  let value: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  if (!ignoreValue) {
    if (args.length > 1) value = bytes(args[1]!);
    else {
      const data = stdinAllowed ? await readStdin() : new Uint8Array(0);
      if (data.length === 0) fail(Exit.BadArgs, need);
      value = new Uint8Array(data);
    }
  }
  const lease = parseGoIntBase16(f.string("lease"));
  if (typeof lease === "string") fail(Exit.BadArgs, `bad lease ID (${lease}), expecting ID in Hex`);
  const req: PutInit = { key: bytes(args[0]!), value };
  if (lease !== 0n) req.lease = lease;
  if (f.bool("prev-kv")) req.prevKv = true;
  if (ignoreValue) req.ignoreValue = true;
  if (f.bool("ignore-lease")) req.ignoreLease = true;
  return req;
}

/** strconv.ParseInt(s, 16, 64) with Go's error text. */
export function parseGoIntBase16(s: string): bigint | string {
  const t = s.startsWith("-") || s.startsWith("+") ? s.slice(1) : s;
  if (!/^[0-9a-fA-F]+$/.test(t)) return `strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax`;
  let v = BigInt(`0x${t}`);
  if (s.startsWith("-")) v = -v;
  if (v > 9223372036854775807n || v < -9223372036854775808n) return `strconv.ParseInt: parsing ${JSON.stringify(s)}: value out of range`;
  return v;
}

export function delRequest(args: string[], f: FlagSet): DelInit {
  if (args.length === 0 || args.length > 2) fail(Exit.BadArgs, "del command needs one argument as key and an optional argument as range_end");
  const prefix = f.bool("prefix");
  const fromKey = f.bool("from-key");
  if (prefix && fromKey) fail(Exit.BadArgs, "`--prefix` and `--from-key` cannot be set at the same time, choose one");
  let key = bytes(args[0]!);
  const req: DelInit = {};
  if (args.length > 1) {
    if (prefix || fromKey) fail(Exit.BadArgs, "too many arguments, only accept one argument when `--prefix` or `--from-key` is set");
    req.rangeEnd = bytes(args[1]!);
  }
  if (prefix) {
    if (key.length === 0) {
      key = ZERO;
      req.rangeEnd = ZERO;
    } else req.rangeEnd = prefixEnd(key);
  }
  if (f.bool("prev-kv")) req.prevKv = true;
  if (fromKey) {
    if (key.length === 0) key = ZERO;
    req.rangeEnd = ZERO;
  }
  req.key = key;
  return req;
}

export const getCommand: Command = {
  name: "get",
  use: "get [options] <key> [range_end]",
  short: "Gets the key or a range of keys",
  flags: GET_FLAGS,
  async run({ args, flags, g }: RunContext) {
    const req = getRequest(args, flags);
    const c = await g.client();
    const resp = await callOrFail(g, () => c.call(KV.method.range, req, { deadline: g.deadline(), idempotent: true }));
    const d = g.display();
    if (flags.bool("print-value-only")) {
      if (d.format !== "simple") fail(Exit.BadArgs, "print-value-only is only for `--write-out=simple`");
      d.valueOnly = true;
    }
    d.get(resp, RangeResponseSchema);
  },
};

export const putCommand: Command = {
  name: "put",
  use: "put [options] <key> <value> (<value> can also be given from stdin)",
  short: "Puts the given key into the store",
  long: `
Puts the given key into the store.

When <value> begins with '-', <value> is interpreted as a flag.
Insert '--' for workaround:

$ put <key> -- <value>
$ put -- <key> <value>

If <value> isn't given as a command line argument and '--ignore-value' is not specified,
this command tries to read the value from standard input.

If <lease> isn't given as a command line argument and '--ignore-lease' is not specified,
this command tries to read the value from standard input.

For example,
$ cat file | put <key>
will store the content of the file to <key>.
`,
  flags: PUT_FLAGS,
  async run({ args, flags, g }) {
    const req = await putRequest(args, flags, true);
    const c = await g.client();
    const resp = await callOrFail(g, () => c.call(KV.method.put, req, { deadline: g.deadline() }));
    g.display().put(resp, PutResponseSchema);
  },
};

export const delCommand: Command = {
  name: "del",
  use: "del [options] <key> [range_end]",
  short: "Removes the specified key or range of keys [key, range_end)",
  flags: DEL_FLAGS,
  async run({ args, flags, g }) {
    const req = delRequest(args, flags);
    const c = await g.client();
    const resp = await callOrFail(g, () => c.call(KV.method.deleteRange, req, { deadline: g.deadline() }));
    g.display().del(resp, DeleteRangeResponseSchema);
  },
};

export const compactionCommand: Command = {
  name: "compaction",
  use: "compaction [options] <revision>",
  short: "Compacts the event history in etcd",
  flags: [{ name: "physical", type: "bool", def: "false", usage: "'true' to wait for compaction to physically remove all old revisions" }],
  async run({ args, flags, g }) {
    if (args.length !== 1) fail(Exit.BadArgs, "compaction command needs 1 argument");
    const rev = parseDecimal(args[0]!);
    if (typeof rev === "string") fail(Exit.Error, rev);
    const c = await g.client();
    await callOrFail(g, () => c.call(KV.method.compact, { revision: rev, physical: flags.bool("physical") }, { deadline: g.deadline() }));
    outln(`compacted revision ${rev}`);
  },
};

/** strconv.ParseInt(s, 10, 64) with Go's error text. */
export function parseDecimal(s: string): bigint | string {
  if (!/^[+-]?\d+$/.test(s)) return `strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax`;
  const v = BigInt(s);
  if (v > 9223372036854775807n || v < -9223372036854775808n) return `strconv.ParseInt: parsing ${JSON.stringify(s)}: value out of range`;
  return v;
}

// ---- txn ----

/** etcdctl's argify: words, "double quoted" (Go escapes) and 'single quoted' strings. */
export function argify(s: string): string[] {
  const re = /"(?:[^"\\]|\\.)*"|'[^']*'|[^'"\s]\S*[^'"\s]?/g;
  const out: string[] = [];
  for (const m of s.match(re) ?? []) {
    if (m.startsWith("'")) out.push(m.slice(1, -1));
    else if (m.startsWith('"')) {
      const u = unquoteGo(m);
      if (u === undefined) fail(Exit.InvalidInput, "invalid syntax");
      out.push(u);
    } else out.push(m);
  }
  return out;
}

/** A Go double-quoted string literal (the escapes %q accepts), or undefined. */
export function unquoteGo(q: string): string | undefined {
  if (q.length < 2 || !q.startsWith('"') || !q.endsWith('"')) return undefined;
  try {
    // JSON covers \" \\ \n \t \r \uXXXX; translate Go-only escapes first.
    const body = q.slice(1, -1).replace(/\\x([0-9a-fA-F]{2})/g, (_m, h) => `\\u00${h}`).replace(/\\a/g, "\\u0007").replace(/\\v/g, "\\u000b");
    return JSON.parse(`"${body}"`) as string;
  } catch {
    return undefined;
  }
}

/** Scans `"key") op "val"` the way fmt.Sscanf("%q) %s %q") does. */
function scanCompareTail(s: string): { key?: string; op?: string; val?: string; n: number } {
  let i = 0;
  const readQuoted = (): string | undefined => {
    while (s[i] === " ") i++;
    if (s[i] === "`") {
      const j = s.indexOf("`", i + 1);
      if (j < 0) return undefined;
      const v = s.slice(i + 1, j);
      i = j + 1;
      return v;
    }
    if (s[i] !== '"') return undefined;
    let j = i + 1;
    while (j < s.length && s[j] !== '"') j += s[j] === "\\" ? 2 : 1;
    if (j >= s.length) return undefined;
    const v = unquoteGo(s.slice(i, j + 1));
    i = j + 1;
    return v;
  };
  const key = readQuoted();
  if (key === undefined) return { n: 0 };
  if (s[i] !== ")") return { key, n: 1 };
  i++;
  while (s[i] === " ") i++;
  let j = i;
  while (j < s.length && s[j] !== " ") j++;
  const op = s.slice(i, j);
  i = j;
  if (op === "") return { key, n: 1 };
  const val = readQuoted();
  if (val === undefined) return { key, op, n: 2 };
  return { key, op, val, n: 3 };
}

const RESULTS: Record<string, Compare_CompareResult> = {
  "=": Compare_CompareResult.EQUAL, "==": Compare_CompareResult.EQUAL, "!=": Compare_CompareResult.NOT_EQUAL,
  "<": Compare_CompareResult.LESS, ">": Compare_CompareResult.GREATER,
};

export function parseCompare(line: string): Compare {
  const lp = line.indexOf("(");
  if (lp < 0) fail(Exit.InvalidInput, `malformed comparison: ${line}`);
  const target = line.slice(0, lp);
  const sc = scanCompareTail(line.slice(lp + 1));
  if (sc.n !== 3) {
    fail(Exit.InvalidInput, `malformed comparison: ${line}; got ${target}(${JSON.stringify(sc.key ?? "")}) ${sc.op ?? ""} ${JSON.stringify(sc.val ?? "")}`);
  }
  const key = bytes(sc.key!);
  const result = RESULTS[sc.op!];
  if (result === undefined) fail(Exit.InvalidInput, `invalid txn compare request: ${line}`);
  const num = () => {
    const v = parseDecimal(sc.val!);
    if (typeof v === "string") fail(Exit.InvalidInput, `invalid txn compare request: ${line}`);
    return v;
  };
  switch (target) {
    case "ver":
    case "version":
      return create(CompareSchema, { key, result, target: Compare_CompareTarget.VERSION, targetUnion: { case: "version", value: num() } });
    case "c":
    case "create":
      return create(CompareSchema, { key, result, target: Compare_CompareTarget.CREATE, targetUnion: { case: "createRevision", value: num() } });
    case "m":
    case "mod":
      return create(CompareSchema, { key, result, target: Compare_CompareTarget.MOD, targetUnion: { case: "modRevision", value: num() } });
    case "val":
    case "value":
      return create(CompareSchema, { key, result, target: Compare_CompareTarget.VALUE, targetUnion: { case: "value", value: bytes(sc.val!) } });
    case "lease":
      return create(CompareSchema, { key, result, target: Compare_CompareTarget.LEASE, targetUnion: { case: "lease", value: num() } });
    default:
      fail(Exit.InvalidInput, `malformed comparison: ${line} (unknown target ${target})`);
  }
}

async function parseRequestOp(line: string): Promise<RequestOp> {
  const args = argify(line);
  if (args.length < 2) fail(Exit.InvalidInput, `invalid txn compare request: ${line}`);
  const bad = () => fail(Exit.InvalidInput, `invalid txn request: ${line}`);
  const kinds: Record<string, FlagDef[]> = { put: PUT_FLAGS, get: GET_FLAGS, del: DEL_FLAGS };
  const name = args[0]!;
  const defs = kinds[name];
  if (defs === undefined) bad();
  const fs = new FlagSet(defs!);
  let positional: string[];
  try {
    positional = parseArgs(fs, args.slice(1)).positional;
  } catch (e) {
    if (e instanceof FlagError) bad();
    throw e;
  }
  if (name === "put") return create(RequestOpSchema, { request: { case: "requestPut", value: await putRequest(positional, fs, false) } });
  if (name === "get") return create(RequestOpSchema, { request: { case: "requestRange", value: getRequest(positional, fs) } });
  return create(RequestOpSchema, { request: { case: "requestDeleteRange", value: delRequest(positional, fs) } });
}

export const txnCommand: Command = {
  name: "txn",
  use: "txn [options]",
  short: "Txn processes all the requests in one transaction",
  flags: [{ name: "interactive", short: "i", type: "bool", def: "false", usage: "Input transaction in interactive mode" }],
  async run({ args, flags, g }) {
    if (args.length !== 0) fail(Exit.BadArgs, "txn command does not accept argument");
    const interactive = flags.bool("interactive");
    const tlsAndDisplay = g.tls();
    void tlsAndDisplay;
    const reader = new LineReader();
    // Each line is parsed as soon as it is read, so a bad line fails before EOF is reached.
    const readBlock = async <T>(parse: (line: string) => T | Promise<T>): Promise<T[]> => {
      const items: T[] = [];
      for (;;) {
        const l = await reader.line();
        if (l === undefined || l.eof) fail(Exit.InvalidInput, "EOF");
        const t = l.text.trim();
        if (t === "") return items;
        items.push(await parse(t));
      }
    };
    if (interactive) outln("compares:");
    const compare = await readBlock(parseCompare);
    if (interactive) outln("success requests (get, put, del):");
    const success = await readBlock(parseRequestOp);
    if (interactive) outln("failure requests (get, put, del):");
    const failure = await readBlock(parseRequestOp);
    reader.close();
    const c = await g.client();
    const resp = await callOrFail(g, () => c.call(KV.method.txn, { compare, success, failure }, { deadline: g.deadline() }));
    g.display().txn(resp, { txn: TxnResponseSchema, range: RangeResponseSchema, put: PutResponseSchema, del: DeleteRangeResponseSchema });
  },
};

export { parseGoInt };
