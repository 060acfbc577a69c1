// check perf (etcdctl's write workloads and verdicts, with a progress bar on a terminal) and
// check datascale.
import { bytes, type Client, ClientError, prefixEnd } from "../../../src/client/index.ts";
import { KV, Maintenance } from "../../../src/gen/rpc_pb.ts";
import type { Command } from "../command.ts";
import { Exit, exitQuietly, fail } from "../exit.ts";
import { outln } from "../io.ts";
import { Progress } from "../progress.ts";
import { callOrFail } from "./util.ts";

const LOADS: Record<string, { limit: number; clients: number; duration: number }> = {
  s: { limit: 150, clients: 50, duration: 60 },
  m: { limit: 1000, clients: 200, duration: 60 },
  l: { limit: 8000, clients: 500, duration: 60 },
  xl: { limit: 15000, clients: 1000, duration: 60 },
};
const ALIAS: Record<string, string> = { s: "s", small: "s", m: "m", medium: "m", l: "l", large: "l", xl: "xl", xLarge: "xl" };

/** Go's %f: six decimals. */
const f6 = (x: number) => x.toFixed(6);

const perf: Command = {
  name: "perf",
  use: "perf [options]",
  short: "Check the performance of the etcd cluster",
  flags: [
    { name: "load", type: "string", def: "s", usage: "The performance check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)" },
    { name: "prefix", type: "string", def: "/etcdctl-check-perf/", usage: "The prefix for writing the performance check's keys." },
    { name: "auto-compact", type: "bool", def: "false", usage: "Compact storage with last revision after test is finished." },
    { name: "auto-defrag", type: "bool", def: "false", usage: "Defragment storage after test is finished." },
    // Not in etcdctl: a shorter run (seconds), for tests and quick looks.
    { name: "duration", type: "int", def: "0", usage: "seconds to run instead of the workload's 60", hidden: true },
  ],
  async run({ flags, g }) {
    const model = ALIAS[flags.string("load")];
    if (model === undefined) fail(Exit.BadFeature, `unknown load option ${flags.string("load")}`);
    const cfg = { ...LOADS[model]! };
    if (flags.int("duration") > 0) cfg.duration = flags.int("duration");
    const prefix = flags.string("prefix");
    const conns = Math.min(cfg.clients, 8);
    const clients: Client[] = [];
    for (let i = 0; i < conns; i++) clients.push(await g.client());
    const c0 = clients[0]!;
    const pk = bytes(prefix);
    const existing = await callOrFail(g, () => c0.call(KV.method.range, { key: pk, rangeEnd: prefixEnd(pk), limit: 1n }, { deadline: Date.now() + cfg.duration * 1000, idempotent: true }));
    if (existing.kvs.length > 0) fail(Exit.InvalidInput, `prefix ${JSON.stringify(prefix)} has keys. Delete with etcdctl del --prefix ${prefix} first`);
    const value = new Uint8Array(1024);
    const bar = new Progress("check perf", cfg.duration, "items");
    const lat: number[] = [];
    const errors = new Map<string, number>();
    const start = performance.now();
    const end = start + cfg.duration * 1000;
    const interval = 1000 / cfg.limit;
    let inflight = 0;
    let sent = 0;
    const tick = setInterval(() => bar.add(1), 1000);
    await new Promise<void>((resolve) => {
      const issue = () => {
        const now = performance.now();
        if (now >= end) {
          if (inflight === 0) resolve();
          return;
        }
        // Token bucket of one: one put per interval, at most `clients` in flight.
        const due = Math.floor((now - start) / interval) + 1;
        while (sent < due && inflight < cfg.clients) {
          const k = new Uint8Array(pk.length + 256);
          k.set(pk);
          k.set(crypto.getRandomValues(new Uint8Array(8)), pk.length);
          const c = clients[sent % conns]!;
          sent++;
          inflight++;
          const st = performance.now();
          c.call(KV.method.put, { key: k, value }, { deadline: Date.now() + 30_000 }).then(
            () => lat.push((performance.now() - st) / 1000),
            (e) => errors.set(String((e as Error).message), (errors.get(String((e as Error).message)) ?? 0) + 1),
          ).finally(() => {
            inflight--;
            if (performance.now() >= end && inflight === 0) resolve();
          });
        }
        setTimeout(issue, Math.max(1, interval / 2));
      };
      issue();
    });
    clearInterval(tick);
    bar.finish();
    const total = (performance.now() - start) / 1000;
    const del = await callOrFail(g, () => c0.call(KV.method.deleteRange, { key: pk, rangeEnd: prefixEnd(pk) }, { deadline: Date.now() + 30_000 }));
    if (flags.bool("auto-compact")) await compactAt(g, c0, del.header!.revision);
    if (flags.bool("auto-defrag")) for (const ep of c0.endpoints()) await defragOne(g, c0, ep);
    for (const c of clients) c.close();
    const rps = lat.length / total;
    const slowest = lat.length > 0 ? Math.max(...lat) : 0;
    const mean = lat.reduce((a, b) => a + b, 0) / Math.max(1, lat.length);
    const stddev = Math.sqrt(lat.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, lat.length));
    let ok = true;
    if (errors.size !== 0) {
      outln("FAIL: too many errors");
      for (const [k, v] of errors) outln(`FAIL: ERROR(${k}) -> ${v}`);
      ok = false;
    }
    if (rps / cfg.limit <= 0.9) {
      outln(`FAIL: Throughput too low: ${Math.trunc(rps) + 1} writes/s`);
      ok = false;
    } else outln(`PASS: Throughput is ${Math.trunc(rps) + 1} writes/s`);
    if (slowest > 0.5) {
      outln(`Slowest request took too long: ${f6(slowest)}s`);
      ok = false;
    } else outln(`PASS: Slowest request took ${f6(slowest)}s`);
    if (stddev > 0.1) {
      outln(`Stddev too high: ${f6(stddev)}s`);
      ok = false;
    } else outln(`PASS: Stddev is ${f6(stddev)}s`);
    if (ok) outln("PASS");
    else {
      outln("FAIL");
      exitQuietly(Exit.Error);
    }
  },
};

const DATASCALE: Record<string, { limit: number; kvSize: number; clients: number }> = {
  s: { limit: 10_000, kvSize: 1024, clients: 50 },
  m: { limit: 100_000, kvSize: 1024, clients: 200 },
  l: { limit: 1_000_000, kvSize: 1024, clients: 500 },
  xl: { limit: 3_000_000, kvSize: 1024, clients: 1000 },
};

/**
 * process_resident_memory_bytes from <endpoint>/metrics (etcdctl's endpointMemoryMetrics):
 * 0 after printing why on stdout when it cannot be read.
 */
async function residentMemory(ep: string, tls: { cert: string; key: string; insecureSkipVerify: boolean }): Promise<number> {
  const key = "process_resident_memory_bytes";
  const host = ep.startsWith("http://") || ep.startsWith("https://") ? ep : `http://${ep}`;
  const url = `${host}/metrics`;
  const { exchange } = await import("../../../src/client/v2/index.ts");
  let t;
  if (host.startsWith("https://")) {
    const { readFileSync } = await import("node:fs");
    try {
      t = { cert: readFileSync(tls.cert), key: readFileSync(tls.key) };
    } catch (e) {
      outln(`client certificate error: ${(e as Error).message}`);
      return 0;
    }
  }
  let body: string;
  try {
    const r = await exchange({ method: "GET", url: new URL(url), headers: {} }, { headerTimeoutMs: 0, dialTimeoutMs: 30_000, deadline: Date.now() + 30_000, tls: t });
    body = new TextDecoder().decode(r.body);
  } catch (e) {
    outln(`fetch error: ${(e as Error).message}`);
    return 0;
  }
  const line = body.split("\n").find((l) => l.startsWith(key));
  if (line === undefined) {
    outln(`could not find: ${key}`);
    return 0;
  }
  const v = Number(line.slice(key.length).trim());
  if (!Number.isFinite(v)) {
    outln(`parse error: strconv.ParseFloat: parsing ${JSON.stringify(line.slice(key.length).trim())}: invalid syntax`);
    return 0;
  }
  return v;
}

const datascale: Command = {
  name: "datascale",
  use: "datascale [options]",
  short: "Check the memory usage of holding data for different workloads on a given server endpoint.",
  long: "If no endpoint is provided, localhost will be used. If multiple endpoints are provided, first endpoint will be used.",
  flags: [
    { name: "load", type: "string", def: "s", usage: "The datascale check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)" },
    { name: "prefix", type: "string", def: "/etcdctl-check-datascale/", usage: "The prefix for writing the datascale check's keys." },
    { name: "auto-compact", type: "bool", def: "false", usage: "Compact storage with last revision after test is finished." },
    { name: "auto-defrag", type: "bool", def: "false", usage: "Defragment storage after test is finished." },
  ],
  async run({ flags, g }) {
    const model = ALIAS[flags.string("load")];
    if (model === undefined) fail(Exit.BadFeature, `unknown load option ${flags.string("load")}`);
    const cfg = DATASCALE[model]!;
    // etcdctl opens one connection per client; a few connections carry the same concurrency.
    const conns = Math.min(cfg.clients, 8);
    const clients: Client[] = [];
    for (let i = 0; i < conns; i++) clients.push(await g.client());
    const c0 = clients[0]!;
    const eps = await g.endpoints();
    const prefix = flags.string("prefix");
    const pk = bytes(prefix);
    const existing = await callOrFail(g, () => c0.call(KV.method.range, { key: pk, rangeEnd: prefixEnd(pk), limit: 1n }, { deadline: Date.now() + 60_000, idempotent: true }));
    if (existing.kvs.length > 0) fail(Exit.InvalidInput, `prefix ${JSON.stringify(prefix)} has keys. Delete with etcdctl del --prefix ${prefix} first`);
    const tls = { cert: g.fs.string("cert"), key: g.fs.string("key"), insecureSkipVerify: g.fs.bool("insecure-skip-tls-verify") };
    const before = await residentMemory(eps[0]!, tls);
    if (before === 0) {
      outln("FAIL: Could not read process_resident_memory_bytes before the put operations.");
      exitQuietly(Exit.Error);
    }
    outln(`Start data scale check for work load [${cfg.limit} key-value pairs, ${cfg.kvSize} bytes per key-value, ${cfg.clients} concurrent clients].`);
    const bar = new Progress("check datascale", cfg.limit, "items");
    const value = new Uint8Array(cfg.kvSize / 2);
    const errors = new Map<string, number>();
    let next = 0;
    const worker = async (c: Client) => {
      while (next < cfg.limit) {
        next++;
        // A 512-byte key: the prefix, then a random number as a varint, then zeros (etcdctl's).
        const k = new Uint8Array(pk.length + cfg.kvSize / 2);
        k.set(pk);
        k.set(crypto.getRandomValues(new Uint8Array(8)), pk.length);
        try {
          await c.call(KV.method.put, { key: k, value }, { deadline: Date.now() + 60_000 });
        } catch (e) {
          const m = e instanceof ClientError ? e.text : String(e);
          errors.set(m, (errors.get(m) ?? 0) + 1);
        }
        bar.add(1);
      }
    };
    await Promise.all(Array.from({ length: cfg.clients }, (_, i) => worker(clients[i % conns]!)));
    bar.finish();
    const after = await residentMemory(eps[0]!, tls);
    if (after === 0) {
      outln("FAIL: Could not read process_resident_memory_bytes after the put operations.");
      exitQuietly(Exit.Error);
    }
    const del = await callOrFail(g, () => c0.call(KV.method.deleteRange, { key: pk, rangeEnd: prefixEnd(pk) }, { deadline: Date.now() + 60_000 }));
    if (flags.bool("auto-compact")) await compactAt(g, c0, del.header!.revision);
    if (flags.bool("auto-defrag")) for (const ep of c0.endpoints()) await defragOne(g, c0, ep);
    for (const c of clients) c.close();
    if (errors.size !== 0) {
      outln("FAIL: too many errors");
      for (const [k, v] of errors) outln(`FAIL: ERROR(${k}) -> ${v}`);
      exitQuietly(Exit.Error);
    }
    outln(`PASS: Approximate system memory used : ${((after - before) / (1024 * 1024)).toFixed(2)} MB.`);
  },
};

/** etcdctl's compact() for check: the two lines around a physical compaction. */
async function compactAt(g: Parameters<typeof callOrFail>[0], c: Client, rev: bigint): Promise<void> {
  outln(`Compacting with revision ${rev}`);
  await callOrFail(g, () => c.call(KV.method.compact, { revision: rev, physical: true }, { deadline: Date.now() + 60_000 }));
  outln(`Compacted with revision ${rev}`);
}

/** etcdctl's defrag() for check. */
async function defragOne(g: Parameters<typeof callOrFail>[0], c: Client, ep: string): Promise<void> {
  outln(`Defragmenting ${JSON.stringify(ep)}`);
  await callOrFail(g, () => c.call(Maintenance.method.defragment, {}, { deadline: Date.now() + 60_000, endpoint: ep }));
  outln(`Defragmented ${JSON.stringify(ep)}`);
}

export const checkCommand: Command = {
  name: "check",
  use: "check <subcommand>",
  short: "commands for checking properties of the etcd cluster",
  sub: [datascale, perf],
};
