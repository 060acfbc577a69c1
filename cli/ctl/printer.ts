// etcdctl's five output formats (-w simple|json|fields|table|protobuf, --hex) for every
// response kind, with its texts, field orders and "not supported" errors.
import { create, type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { type KeyValue, type Event, Event_EventType, KeyValueSchema, EventSchema } from "../../src/gen/kv_pb.ts";
import { Permission_Type } from "../../src/gen/auth_pb.ts";
import {
  AlarmType, type AlarmResponse, type DeleteRangeResponse, type HashKVResponse, type LeaseGrantResponse, type LeaseKeepAliveResponse,
  type LeaseLeasesResponse, type LeaseTimeToLiveResponse, type MemberListResponse, type PutResponse, type RangeResponse, type ResponseHeader,
  type StatusResponse, type TxnResponse, type WatchResponse, ResponseHeaderSchema, WatchResponseSchema, type AuthRoleGetResponse,
} from "../../src/gen/rpc_pb.ts";
import { fail, Exit } from "./exit.ts";
import { goJson, type GoObject, type GoValue, goQuote, hex, hex16, humanizeBytes, leaseHex, pbToGo } from "./go-format.ts";
import { out, outln, errln } from "./io.ts";
import { renderTable } from "./table.ts";

export type Format = "simple" | "json" | "fields" | "table" | "protobuf";

export interface EpHealth {
  ep: string;
  health: boolean;
  took: string;
  error: string;
}
export interface EpStatus {
  ep: string;
  resp: StatusResponse;
}
export interface EpHashKV {
  ep: string;
  resp: HashKVResponse;
}
export interface DbStatus {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
}

const dec = new TextDecoder();
const text = (b: Uint8Array) => dec.decode(b);

function hexBytes(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += `\\x${x.toString(16).padStart(2, "0")}`;
  return s;
}

export class Display {
  valueOnly = false;

  constructor(readonly format: Format, readonly isHex: boolean) {}

  static parse(format: string, isHex: boolean): Display | undefined {
    if (!["simple", "json", "fields", "table", "protobuf"].includes(format)) return undefined;
    return new Display(format as Format, isHex);
  }

  private unsupported(): never {
    fail(Exit.BadFeature, `${this.format} not supported as output format`);
  }

  /** json / protobuf of an RPC response; false when the format is another one. */
  private rpc<D extends DescMessage>(schema: D, msg: MessageShape<D>): boolean {
    if (this.format === "json") {
      outln(goJson(pbToGo(schema, msg)));
      return true;
    }
    if (this.format === "protobuf") {
      out(toBinary(schema, msg));
      return true;
    }
    if (this.format === "table") this.unsupported();
    return false;
  }

  private kv(kv: KeyValue): void {
    let k = text(kv.key);
    let v = text(kv.value);
    if (this.isHex) {
      k = hexBytes(kv.key);
      v = hexBytes(kv.value);
    }
    if (!this.valueOnly) outln(k);
    outln(v);
  }

  private fkv(pfx: string, kv: KeyValue): void {
    outln(`"${pfx}Key" : ${goQuote(kv.key)}`);
    outln(`"${pfx}CreateRevision" : ${kv.createRevision}`);
    outln(`"${pfx}ModRevision" : ${kv.modRevision}`);
    outln(`"${pfx}Version" : ${kv.version}`);
    outln(`"${pfx}Value" : ${goQuote(kv.value)}`);
    outln(`"${pfx}Lease" : ${kv.lease}`);
  }

  private hdr(h: ResponseHeader | undefined): void {
    outln(`"ClusterID" : ${h?.clusterId ?? 0n}`);
    outln(`"MemberID" : ${h?.memberId ?? 0n}`);
    outln(`"Revision" : ${h?.revision ?? 0n}`);
    outln(`"RaftTerm" : ${h?.raftTerm ?? 0n}`);
  }

  get(r: RangeResponse, schema: DescMessage): void {
    if (this.rpc(schema, r)) return;
    if (this.format === "fields") {
      this.hdr(r.header);
      for (const kv of r.kvs) this.fkv("", kv);
      outln(`"More" : ${r.more}`);
      outln(`"Count" : ${r.count}`);
      return;
    }
    for (const kv of r.kvs) this.kv(kv);
  }

  put(r: PutResponse, schema: DescMessage): void {
    if (this.rpc(schema, r)) return;
    if (this.format === "fields") {
      this.hdr(r.header);
      if (r.prevKv) this.fkv("Prev", r.prevKv);
      return;
    }
    outln("OK");
    if (r.prevKv) this.kv(r.prevKv);
  }

  del(r: DeleteRangeResponse, schema: DescMessage): void {
    if (this.rpc(schema, r)) return;
    if (this.format === "fields") {
      this.hdr(r.header);
      outln(`"Deleted" : ${r.deleted}`);
      for (const kv of r.prevKvs) this.fkv("Prev", kv);
      return;
    }
    outln(String(r.deleted));
    for (const kv of r.prevKvs) this.kv(kv);
  }

  txn(r: TxnResponse, schemas: { txn: DescMessage; range: DescMessage; put: DescMessage; del: DescMessage }): void {
    if (this.rpc(schemas.txn, r)) return;
    if (this.format === "fields") {
      this.hdr(r.header);
      outln(`"Succeeded" : ${r.succeeded}`);
      for (const op of r.responses) {
        const v = op.response;
        if (v.case === "responseDeleteRange") this.del(v.value, schemas.del);
        else if (v.case === "responsePut") this.put(v.value, schemas.put);
        else if (v.case === "responseRange") this.get(v.value, schemas.range);
        else outln(`"Unknown" : ${goQuote(JSON.stringify(v))}`);
      }
      return;
    }
    outln(r.succeeded ? "SUCCESS" : "FAILURE");
    for (const op of r.responses) {
      outln("");
      const v = op.response;
      if (v.case === "responseDeleteRange") this.del(v.value, schemas.del);
      else if (v.case === "responsePut") this.put(v.value, schemas.put);
      else if (v.case === "responseRange") this.get(v.value, schemas.range);
      else outln(`unexpected response ${JSON.stringify(v)}`);
    }
  }

  watch(r: WatchResponse): void {
    if (this.format === "json") {
      const o: GoObject = {
        Header: r.header ? pbToGo(ResponseHeaderSchema, r.header) : {},
        Events: r.events.length === 0 ? null : r.events.map((e) => pbToGo(EventSchema, e)),
        CompactRevision: r.compactRevision,
        Canceled: r.canceled,
        Created: r.created,
      };
      outln(goJson(o));
      return;
    }
    if (this.format === "protobuf") {
      const copy = { ...r, watchId: 0n, cancelReason: "", fragment: false } as WatchResponse;
      out(toBinary(WatchResponseSchema, copy));
      return;
    }
    if (this.format === "table") this.unsupported();
    if (this.format === "fields") {
      this.hdr(r.header);
      for (const e of r.events) {
        outln(`"Type" : ${Event_EventType[e.type]}`);
        if (e.prevKv) this.fkv("Prev", e.prevKv);
        this.fkv("", e.kv!);
      }
      return;
    }
    for (const e of r.events) this.event(e);
  }

  private event(e: Event): void {
    outln(Event_EventType[e.type]);
    if (e.prevKv) this.kv(e.prevKv);
    this.kv(e.kv ?? ({ key: new Uint8Array(), value: new Uint8Array() } as unknown as KeyValue));
  }

  /**
   * -w protobuf of clientv3's lease responses: they embed *pb.ResponseHeader, whose Marshal
   * method is the one etcdctl finds, so only the header is written.
   */
  private headerPb(h: ResponseHeader | undefined): void {
    out(toBinary(ResponseHeaderSchema, h ?? create(ResponseHeaderSchema, {})));
  }

  private headerFields(h: ResponseHeader | undefined): GoObject {
    return h ? pbToGo(ResponseHeaderSchema, h) : {};
  }

  grant(r: LeaseGrantResponse): void {
    if (this.format === "json") return outln(goJson({ ...this.headerFields(r.header), ID: r.ID, TTL: r.TTL, Error: r.error }));
    if (this.format === "protobuf") return this.headerPb(r.header);
    if (this.format === "table") this.unsupported();
    if (this.format === "fields") {
      this.hdr(r.header);
      outln(`"ID" : ${r.ID}`);
      outln(`"TTL" : ${r.TTL}`);
      return;
    }
    outln(`lease ${leaseHex(r.ID)} granted with TTL(${r.TTL}s)`);
  }

  revoke(id: bigint, r: { header?: ResponseHeader }, schema: DescMessage): void {
    // clientv3.LeaseRevokeResponse is a plain copy of the protobuf type without its methods:
    // etcdctl cannot marshal it and says so with the value (%v: the header's text form).
    if (this.format === "protobuf") fail(Exit.BadFeature, `marshal unsupported for type clientv3.LeaseRevokeResponse ({${headerText(r.header)}})`);
    if (this.rpc(schema, r as unknown as MessageShape<DescMessage>)) return;
    if (this.format === "fields") return this.hdr(r.header);
    outln(`lease ${leaseHex(id)} revoked`);
  }

  keepAlive(r: LeaseKeepAliveResponse): void {
    if (this.format === "json") return outln(goJson({ ...this.headerFields(r.header), ID: r.ID, TTL: r.TTL }));
    if (this.format === "protobuf") return this.headerPb(r.header);
    if (this.format === "table") this.unsupported();
    if (this.format === "fields") {
      this.hdr(r.header);
      outln(`"ID" : ${r.ID}`);
      outln(`"TTL" : ${r.TTL}`);
      return;
    }
    outln(`lease ${leaseHex(r.ID)} keepalived with TTL(${r.TTL})`);
  }

  timeToLive(r: LeaseTimeToLiveResponse, keys: boolean): void {
    if (this.format === "json") {
      return outln(goJson({ ...this.headerFields(r.header), id: r.ID, ttl: r.TTL, "granted-ttl": r.grantedTTL, keys: r.keys.length === 0 ? null : r.keys }));
    }
    if (this.format === "protobuf") return this.headerPb(r.header);
    if (this.format === "table") this.unsupported();
    if (this.format === "fields") {
      this.hdr(r.header);
      outln(`"ID" : ${r.ID}`);
      outln(`"TTL" : ${r.TTL}`);
      outln(`"GrantedTTL" : ${r.grantedTTL}`);
      for (const k of r.keys) outln(`"Key" : ${goQuote(k)}`);
      return;
    }
    if (r.grantedTTL === 0n && r.TTL === -1n) return outln(`lease ${leaseHex(r.ID)} already expired`);
    let t = `lease ${leaseHex(r.ID)} granted with TTL(${r.grantedTTL}s), remaining(${r.TTL}s)`;
    if (keys) t += `, attached keys([${r.keys.map(text).join(" ")}])`;
    outln(t);
  }

  leases(r: LeaseLeasesResponse): void {
    if (this.format === "json") {
      return outln(goJson({ ...this.headerFields(r.header), leases: r.leases.length === 0 ? null : r.leases.map((l) => ({ id: l.ID })) }));
    }
    if (this.format === "protobuf") return this.headerPb(r.header);
    if (this.format === "table") this.unsupported();
    if (this.format === "fields") {
      this.hdr(r.header);
      for (const l of r.leases) outln(`"ID" : ${l.ID}`);
      return;
    }
    outln(`found ${r.leases.length} leases`);
    for (const l of r.leases) outln(leaseHex(l.ID));
  }

  /** member add/remove/update/promote: simple prints `verb`; fields is not supported. */
  memberChange(verb: "added to" | "removed from" | "updated in" | "promoted in", id: bigint, r: { header?: ResponseHeader }, schema: DescMessage): void {
    if (this.rpc(schema, r as unknown as MessageShape<DescMessage>)) return;
    if (this.format === "fields") this.unsupported();
    outln(`Member ${hex16(id)} ${verb} cluster ${hex16(r.header?.clusterId ?? 0n)}`);
  }

  memberList(r: MemberListResponse, schema: DescMessage): void {
    const rows = r.members.map((m) => [hex(m.ID), m.name === "" ? "unstarted" : "started", m.name, m.peerURLs.join(","), m.clientURLs.join(","), String(m.isLearner)]);
    if (this.format === "table") {
      out(renderTable(["ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner"], rows));
      return;
    }
    if (this.rpc(schema, r)) return;
    if (this.format === "fields") {
      this.hdr(r.header);
      for (const m of r.members) {
        outln(`"ID" : ${m.ID}`);
        outln(`"Name" : ${goQuote(m.name)}`);
        for (const u of m.peerURLs) outln(`"PeerURL" : ${goQuote(u)}`);
        for (const u of m.clientURLs) outln(`"ClientURL" : ${goQuote(u)}`);
        outln(`"IsLearner" : ${m.isLearner}`);
        outln("");
      }
      return;
    }
    for (const row of rows) outln(row.join(", "));
  }

  endpointHealth(list: EpHealth[]): void {
    if (this.format === "json") {
      return outln(goJson(list.map((h) => ({ endpoint: h.ep, health: h.health, took: h.took, error: h.error === "" ? undefined : h.error }))));
    }
    if (this.format === "table") {
      out(renderTable(["endpoint", "health", "took", "error"], list.map((h) => [h.ep, String(h.health), h.took, h.error])));
      return;
    }
    if (this.format === "protobuf") this.unsupported();
    if (this.format === "fields") {
      for (const h of list) {
        outln(`"Endpoint" : ${goQuote(h.ep)}`);
        outln(`"Health" : ${h.health}`);
        outln(`"Took" : ${h.took}`);
        outln(`"Error" : ${h.error}`);
        outln("");
      }
      return;
    }
    for (const h of list) {
      if (h.error === "") errln(`${h.ep} is healthy: successfully committed proposal: took = ${h.took}`);
      else errln(`${h.ep} is unhealthy: failed to commit proposal: ${h.error}`);
    }
  }

  endpointStatus(list: EpStatus[], schema: DescMessage): void {
    const rows = list.map((s) => [
      s.ep,
      hex(s.resp.header?.memberId ?? 0n),
      s.resp.version,
      humanizeBytes(Number(s.resp.dbSize)),
      String(s.resp.leader === (s.resp.header?.memberId ?? 0n)),
      String(s.resp.isLearner),
      String(s.resp.raftTerm),
      String(s.resp.raftIndex),
      String(s.resp.raftAppliedIndex),
      s.resp.errors.join(", "),
    ]);
    if (this.format === "json") return outln(goJson(list.map((s) => ({ Endpoint: s.ep, Status: pbToGo(schema, s.resp) }))));
    if (this.format === "table") {
      out(renderTable(["endpoint", "ID", "version", "db size", "is leader", "is learner", "raft term", "raft index", "raft applied index", "errors"], rows));
      return;
    }
    if (this.format === "protobuf") this.unsupported();
    if (this.format === "fields") {
      for (const s of list) {
        this.hdr(s.resp.header);
        outln(`"Version" : ${goQuote(s.resp.version)}`);
        outln(`"DBSize" : ${s.resp.dbSize}`);
        outln(`"Leader" : ${s.resp.leader}`);
        outln(`"IsLearner" : ${s.resp.isLearner}`);
        outln(`"RaftIndex" : ${s.resp.raftIndex}`);
        outln(`"RaftTerm" : ${s.resp.raftTerm}`);
        outln(`"RaftAppliedIndex" : ${s.resp.raftAppliedIndex}`);
        outln(`"Errors" : [${s.resp.errors.join(" ")}]`);
        outln(`"Endpoint" : ${goQuote(s.ep)}`);
        outln("");
      }
      return;
    }
    for (const row of rows) outln(row.join(", "));
  }

  endpointHashKV(list: EpHashKV[], schema: DescMessage): void {
    if (this.format === "json") return outln(goJson(list.map((h) => ({ Endpoint: h.ep, HashKV: pbToGo(schema, h.resp) }))));
    if (this.format === "table") {
      out(renderTable(["endpoint", "hash"], list.map((h) => [h.ep, String(h.resp.hash)])));
      return;
    }
    if (this.format === "protobuf") this.unsupported();
    if (this.format === "fields") {
      for (const h of list) {
        this.hdr(h.resp.header);
        outln(`"Endpoint" : ${goQuote(h.ep)}`);
        outln(`"Hash" : ${h.resp.hash}`);
        outln("");
      }
      return;
    }
    for (const h of list) outln(`${h.ep}, ${h.resp.hash}`);
  }

  moveLeader(leader: bigint, target: bigint, r: { header?: ResponseHeader }, schema: DescMessage): void {
    if (this.rpc(schema, r as unknown as MessageShape<DescMessage>)) return;
    if (this.format === "fields") this.unsupported();
    outln(`Leadership transferred from ${hex(leader)} to ${hex(target)}`);
  }

  alarm(r: AlarmResponse, schema: DescMessage): void {
    if (this.rpc(schema, r)) return;
    if (this.format === "fields") {
      this.hdr(r.header);
      for (const a of r.alarms) {
        outln(`"MemberID" : ${a.memberID}`);
        outln(`"AlarmType" : ${AlarmType[a.alarm]}`);
        outln("");
      }
      return;
    }
    for (const a of r.alarms) {
      // gogo's CompactTextString of AlarmMember (zero fields left out).
      let s = "";
      if (a.memberID !== 0n) s += `memberID:${a.memberID} `;
      if (a.alarm !== 0) s += `alarm:${AlarmType[a.alarm]} `;
      outln(s);
    }
  }

  dbStatus(s: DbStatus): void {
    if (this.format === "json") return outln(goJson({ hash: s.hash, revision: s.revision, totalKey: s.totalKey, totalSize: s.totalSize }));
    const row = [s.hash.toString(16), String(s.revision), String(s.totalKey), humanizeBytes(s.totalSize)];
    if (this.format === "table") {
      out(renderTable(["hash", "revision", "total keys", "total size"], [row]));
      return;
    }
    if (this.format === "protobuf") this.unsupported();
    if (this.format === "fields") {
      outln(`"Hash" : ${s.hash}`);
      outln(`"Revision" : ${s.revision}`);
      outln(`"Keys" : ${s.totalKey}`);
      outln(`"Size" : ${s.totalSize}`);
      return;
    }
    outln(row.join(", "));
  }

  /** Auth responses that print one line in simple form and only the header in fields form. */
  authSimple(line: string, r: { header?: ResponseHeader }, schema: DescMessage, fieldsSupported = true): void {
    if (this.rpc(schema, r as unknown as MessageShape<DescMessage>)) return;
    if (this.format === "fields") {
      if (!fieldsSupported) this.unsupported();
      return this.hdr(r.header);
    }
    outln(line);
  }

  roleGet(role: string, r: AuthRoleGetResponse, schema: DescMessage): void {
    if (this.rpc(schema, r)) return;
    if (this.format === "fields") {
      this.hdr(r.header);
      for (const p of r.perm) {
        outln(`"PermType" :  ${Permission_Type[p.permType]}`);
        outln(`"Key" : ${goQuote(p.key)}`);
        outln(`"RangeEnd" : ${goQuote(p.rangeEnd)}`);
      }
      return;
    }
    outln(`Role ${role}`);
    const printRange = (key: string, end: string) => {
      let s = end !== "\x00" ? `\t[${key}, ${end})` : `\t[${key}, <open ended>`;
      if (prefixEndText(key) === end) s += ` (prefix ${key})`;
      outln(s);
    };
    for (const [label, types] of [["KV Read:", [Permission_Type.READ, Permission_Type.READWRITE]], ["KV Write:", [Permission_Type.WRITE, Permission_Type.READWRITE]]] as const) {
      outln(label);
      for (const p of r.perm) {
        if (!(types as readonly number[]).includes(p.permType)) continue;
        if (p.rangeEnd.length === 0) outln(`\t${text(p.key)}`);
        else printRange(text(p.key), text(p.rangeEnd));
      }
    }
  }

  roleList(r: { header?: ResponseHeader; roles: string[] }, schema: DescMessage): void {
    if (this.rpc(schema, r as unknown as MessageShape<DescMessage>)) return;
    if (this.format === "fields") {
      this.hdr(r.header);
      outln(`"Roles" :${r.roles.map((x) => ` ${goQuote(x)}`).join("")}`);
      return;
    }
    for (const x of r.roles) outln(x);
  }

  userGet(name: string, r: { header?: ResponseHeader; roles: string[] }, schema: DescMessage): void {
    if (this.rpc(schema, r as unknown as MessageShape<DescMessage>)) return;
    if (this.format === "fields") this.unsupported();
    outln(`User: ${name}`);
    outln(`Roles:${r.roles.map((x) => ` ${x}`).join("")}`);
  }

  userList(r: { header?: ResponseHeader; users: string[] }, schema: DescMessage): void {
    if (this.rpc(schema, r as unknown as MessageShape<DescMessage>)) return;
    if (this.format === "fields") this.unsupported();
    for (const u of r.users) outln(u);
  }
}

/** clientv3.GetPrefixRangeEnd on text. */
function prefixEndText(key: string): string {
  const b = Buffer.from(key, "utf8");
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const e = Buffer.from(b.subarray(0, i + 1));
      e[i]! += 1;
      return e.toString("latin1") === e.toString("utf8") ? e.toString("utf8") : e.toString("latin1");
    }
  }
  return "\x00";
}

export type { GoValue, KeyValueSchema };

/** A ResponseHeader in protobuf's text form, as gogo's String() gives it (zero fields left out). */
function headerText(h: ResponseHeader | undefined): string {
  if (h === undefined) return "";
  let t = "";
  if (h.clusterId !== 0n) t += `cluster_id:${h.clusterId} `;
  if (h.memberId !== 0n) t += `member_id:${h.memberId} `;
  if (h.revision !== 0n) t += `revision:${h.revision} `;
  if (h.raftTerm !== 0n) t += `raft_term:${h.raftTerm} `;
  return t;
}
