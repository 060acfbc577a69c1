// Events and the external form of nodes (etcd's v2store Event and NodeExtern), and their JSON
// exactly as etcd writes it: Go's field order, `omitempty` rules and string escaping, so that
// bodies compare byte for byte.

export const Action = {
  Get: "get",
  Create: "create",
  Set: "set",
  Update: "update",
  Delete: "delete",
  CompareAndSwap: "compareAndSwap",
  CompareAndDelete: "compareAndDelete",
  Expire: "expire",
} as const;
export type Action = (typeof Action)[keyof typeof Action];

/** A node as answered to clients. Zero/empty fields are left out of the JSON. */
export interface NodeExtern {
  key: string;
  /** Defined for files (even when empty), undefined for directories. */
  value?: string;
  dir?: boolean;
  /** Unix ms of expiry (undefined: permanent). */
  expiration?: number;
  /** Remaining seconds when the node was read. */
  ttl?: number;
  nodes?: NodeExtern[];
  modifiedIndex: number;
  createdIndex: number;
}

export interface V2Event {
  readonly action: Action;
  readonly node: NodeExtern;
  prevNode?: NodeExtern;
  /** The store index after the operation (or when a watcher started): X-Etcd-Index. */
  etcdIndex: number;
  /** A TTL refresh: kept in the history but never delivered to watchers. */
  refresh?: boolean;
}

/** The index an event happened at. */
export function eventIndex(e: V2Event): number {
  return e.node.modifiedIndex;
}

/** etcd's IsCreated: answered with 201. */
export function isCreated(e: V2Event): boolean {
  return e.action === Action.Create || (e.action === Action.Set && e.prevNode === undefined);
}

// ---- JSON ---------------------------------------------------------------------------------

/** Characters Go's encoder writes as they are inside a string (no quote, backslash, <, >, &). */
const PLAIN = /^[\x20\x21\x23-\x25\x27-\x3b\x3d\x3f-\x5b\x5d-\x7e]*$/;

/** A string as Go's encoding/json writes it (HTML-safe escaping of <, >, &, U+2028, U+2029). */
export function goString(s: string): string {
  if (PLAIN.test(s)) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
      out += "\\u" + c.toString(16).padStart(4, "0");
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // A lone surrogate is not valid UTF-8: Go writes U+FFFD for it.
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        out += s[i]! + s[i + 1]!;
        i++;
      } else out += "\ufffd";
    } else out += s[i];
  }
  return out + '"';
}

/** Go's time.Time JSON form (RFC 3339 with up to 9 fraction digits, trailing zeros dropped), UTC. */
export function rfc3339Nano(ms: number): string {
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const frac = iso.slice(20, 23).replace(/0+$/, "");
  return `${iso.slice(0, 19)}${frac === "" ? "" : "." + frac}Z`;
}

function stripPrefix(key: string, prefix: string): string {
  return prefix !== "" && key.startsWith(prefix) ? key.slice(prefix.length) : key;
}

/** One node's JSON; `prefix` is removed from the front of every key (etcd trims "/1"). */
export function nodeJson(n: NodeExtern, prefix = ""): string {
  let s = "{";
  const key = stripPrefix(n.key, prefix);
  const parts: string[] = [];
  if (key !== "") parts.push(`"key":${goString(key)}`);
  if (n.value !== undefined) parts.push(`"value":${goString(n.value)}`);
  if (n.dir === true) parts.push(`"dir":true`);
  if (n.expiration !== undefined) parts.push(`"expiration":"${rfc3339Nano(n.expiration)}"`);
  if (n.ttl !== undefined && n.ttl !== 0) parts.push(`"ttl":${n.ttl}`);
  if (n.nodes !== undefined && n.nodes.length > 0) parts.push(`"nodes":[${n.nodes.map((c) => nodeJson(c, prefix)).join(",")}]`);
  if (n.modifiedIndex !== 0) parts.push(`"modifiedIndex":${n.modifiedIndex}`);
  if (n.createdIndex !== 0) parts.push(`"createdIndex":${n.createdIndex}`);
  s += parts.join(",");
  return s + "}";
}

/**
 * An event's JSON as the keys API writes it (no trailing newline). `omitNodes` leaves node and
 * prevNode out (noValueOnSuccess). The refresh flag is never written: etcd drops it when it
 * copies an event for a response.
 */
export function eventJson(e: V2Event, prefix = "", omitNodes = false): string {
  let s = `{"action":"${e.action}"`;
  if (!omitNodes) {
    s += `,"node":${nodeJson(e.node, prefix)}`;
    if (e.prevNode !== undefined) s += `,"prevNode":${nodeJson(e.prevNode, prefix)}`;
  }
  return s + "}";
}

/** The event as kept in the history table: full keys, the refresh flag, no etcdIndex. */
export function eventRecord(e: V2Event): string {
  const r: { a: Action; n: NodeExtern; p?: NodeExtern; r?: true } = { a: e.action, n: e.node };
  if (e.prevNode !== undefined) r.p = e.prevNode;
  if (e.refresh === true) r.r = true;
  return JSON.stringify(r);
}

/** Reads back eventRecord's text (the caller validated its shape). */
export function eventFromRecord(r: { a: Action; n: NodeExtern; p?: NodeExtern; r?: boolean }): V2Event {
  const e: V2Event = { action: r.a, node: r.n, etcdIndex: r.n.modifiedIndex };
  if (r.p !== undefined) e.prevNode = r.p;
  if (r.r === true) e.refresh = true;
  return e;
}
