// version, completion (bash, zsh, fish), make-mirror.
import { bytes, type Client, prefixEnd, Watcher } from "../../../src/client/index.ts";
import { Event_EventType } from "../../../src/gen/kv_pb.ts";
import { KV } from "../../../src/gen/rpc_pb.ts";
import { API_VERSION, CTL_VERSION, type Command } from "../command.ts";
import { Exit, fail } from "../exit.ts";
import { outln } from "../io.ts";
import { Progress } from "../progress.ts";
import { completionScript } from "../completion.ts";
import { callOrFail } from "./util.ts";

export const versionCommand: Command = {
  name: "version",
  use: "version",
  short: "Prints the version of etcdctl",
  async run() {
    outln(`etcdctl version: ${CTL_VERSION}`);
    outln(`API version: ${API_VERSION}`);
  },
};

const shells = ["bash", "fish", "zsh"] as const;
export const completionCommand: Command = {
  name: "completion",
  use: "completion",
  short: "Generate the autocompletion script for the specified shell",
  sub: shells.map((sh) => ({
    name: sh,
    use: sh,
    short: `Generate the autocompletion script for ${sh}`,
    async run() {
      process.stdout.write(completionScript(sh));
    },
  })),
};

export const makeMirrorCommand: Command = {
  name: "make-mirror",
  use: "make-mirror [options] <destination>",
  short: "Makes a mirror at the destination etcd cluster",
  flags: [
    { name: "prefix", type: "string", def: "", usage: "Key-value prefix to mirror" },
    { name: "dest-prefix", type: "string", def: "", usage: "destination prefix to mirror a prefix to a different prefix in the destination cluster" },
    { name: "no-dest-prefix", type: "bool", def: "false", usage: "mirror key-values to the root of the destination cluster" },
    { name: "dest-cert", type: "string", def: "", usage: "Identify secure client using this TLS certificate file for the destination cluster" },
    { name: "dest-key", type: "string", def: "", usage: "Identify secure client using this TLS key file" },
    { name: "dest-cacert", type: "string", def: "", usage: "Verify certificates of TLS enabled secure servers using this CA bundle" },
    { name: "dest-insecure-transport", type: "bool", def: "true", usage: "Disable transport security for client connections" },
  ],
  async run({ args, flags, g }) {
    if (args.length !== 1) fail(Exit.BadArgs, "make-mirror takes one destination argument.");
    const src = await g.client();
    const dst = await g.client([args[0]!], false);
    const prefix = flags.string("prefix");
    let destPrefix = flags.string("dest-prefix");
    if (flags.bool("no-dest-prefix")) destPrefix = "";
    else if (!flags.changed.has("dest-prefix")) destPrefix = prefix;
    const map = (k: Uint8Array): Uint8Array => {
      const rest = k.subarray(bytes(prefix).length);
      const out = new Uint8Array(bytes(destPrefix).length + rest.length);
      out.set(bytes(destPrefix));
      out.set(rest, bytes(destPrefix).length);
      return out;
    };
    let total = 0;
    // Like etcdctl: the running count every 30 s.
    const t = setInterval(() => outln(String(total)), 30_000);
    await mirror(src, dst, prefix, map, (n) => {
      total = n;
    }, g);
    clearInterval(t);
  },
};

/** Copies the prefix's current keys, then replays every later change; prints the running count. */
async function mirror(src: Client, dst: Client, prefix: string, map: (k: Uint8Array) => Uint8Array, report: (n: number) => void, g: Parameters<typeof callOrFail>[0]): Promise<void> {
  const pk = bytes(prefix);
  const end = pk.length === 0 ? new Uint8Array([0]) : prefixEnd(pk);
  const key = pk.length === 0 ? new Uint8Array([0]) : pk;
  const first = await callOrFail(g, () => src.call(KV.method.range, { key, rangeEnd: end, limit: 1n, countOnly: true }, { deadline: Date.now() + 60_000, idempotent: true }));
  const rev = first.header!.revision;
  const bar = new Progress("make-mirror sync", Number(first.count), "items");
  let total = 0;
  let from = key;
  for (;;) {
    const page = await callOrFail(g, () => src.call(KV.method.range, { key: from, rangeEnd: end, limit: 1000n, revision: rev }, { deadline: Date.now() + 60_000, idempotent: true }));
    for (const kv of page.kvs) {
      await callOrFail(g, () => dst.call(KV.method.put, { key: map(kv.key), value: kv.value }, { deadline: Date.now() + 60_000 }));
      total++;
      bar.add(1);
    }
    if (!page.more || page.kvs.length === 0) break;
    const last = page.kvs.at(-1)!.key;
    from = new Uint8Array(last.length + 1);
    from.set(last);
  }
  bar.finish();
  const w = new Watcher(src);
  await new Promise<void>((resolve, reject) => {
    let chain = Promise.resolve();
    w.watch({ key, rangeEnd: end, startRevision: rev + 1n, requireLeader: true }, (u) => {
      const evs = u.response.events;
      chain = chain.then(async () => {
        for (const ev of evs) {
          const k = map(ev.kv!.key);
          if (ev.type === Event_EventType.PUT) await dst.call(KV.method.put, { key: k, value: ev.kv!.value }, { deadline: Date.now() + 60_000 });
          else await dst.call(KV.method.deleteRange, { key: k }, { deadline: Date.now() + 60_000 });
          total++;
        }
        if (evs.length > 0) report(total);
      }).catch(reject);
    }, (err) => (err ? reject(err) : resolve()));
  }).catch((e) => fail(Exit.Error, (e as { text?: string }).text ?? String(e)));
}
