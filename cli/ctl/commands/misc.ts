// version, completion (bash, zsh, fish), make-mirror.
import { create } from "@bufbuild/protobuf";
import { type ClientError, Syncer } from "../../../src/client/index.ts";
import { Event_EventType } from "../../../src/gen/kv_pb.ts";
import { KV, type RequestOp, RequestOpSchema } from "../../../src/gen/rpc_pb.ts";
import { tlsSettings } from "../globals.ts";
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
    if (args.length !== 1) fail(Exit.BadArgs, "make-mirror takes one destination argument");
    // The destination: its own TLS flags, no credentials (etcdctl's clientConfig for it).
    const destTls = tlsSettings({ cert: flags.string("dest-cert"), key: flags.string("dest-key"), cacert: flags.string("dest-cacert"), insecureTransport: flags.bool("dest-insecure-transport") });
    const dst = await g.client([args[0]!], false, destTls);
    const src = await g.client();
    const prefix = flags.string("prefix");
    const s = new Syncer(src, prefix);
    const bar = new Progress("make-mirror sync", await callOrFail(g, () => s.count()), "items");
    if (flags.bool("no-dest-prefix") && flags.string("dest-prefix") !== "") {
      fail(Exit.BadArgs, "`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one");
    }
    const destPrefix = flags.bool("no-dest-prefix") || flags.string("dest-prefix") !== "" ? flags.string("dest-prefix") : prefix;
    const map = modifyPrefix(prefix, destPrefix);
    let total = 0;
    // Like etcdctl: the running count every 30 s.
    const t = setInterval(() => outln(String(total)), 30_000);
    const write = (f: () => Promise<unknown>) => callOrFail(g, f);
    for await (const page of iterate(g, s)) {
      for (const kv of page.kvs) {
        await write(() => dst.call(KV.method.put, { key: map(kv.key), value: kv.value }, { deadline: Date.now() + LONG }));
        total++;
        bar.add(1);
      }
    }
    bar.finish();
    // Every later change; the events of one revision (a transaction) go in one transaction.
    const err = await new Promise<ClientError | undefined>((resolve) => {
      let chain: Promise<void> = Promise.resolve();
      s.syncUpdates(
        (r) => {
          chain = chain.then(async () => {
            let ops: RequestOp[] = [];
            let lastRev = 0n;
            const commit = async () => {
              const success = ops;
              ops = [];
              await write(() => dst.call(KV.method.txn, { success }, { deadline: Date.now() + LONG }));
            };
            for (const ev of r.events) {
              const rev = ev.kv!.modRevision;
              if (lastRev !== 0n && rev > lastRev) await commit();
              lastRev = rev;
              const key = map(ev.kv!.key);
              ops.push(
                create(RequestOpSchema, ev.type === Event_EventType.PUT ? { request: { case: "requestPut", value: { key, value: ev.kv!.value } } } : { request: { case: "requestDeleteRange", value: { key } } }),
              );
              total++;
            }
            if (ops.length > 0) await commit();
          });
        },
        (e) => {
          void chain.then(() => resolve(e));
        },
      );
    });
    clearInterval(t);
    s.close();
    fail(Exit.Error, err?.text ?? "watch closed");
  },
};

const LONG = 365 * 24 * 3600 * 1000;

async function* iterate(g: Parameters<typeof callOrFail>[0], s: Syncer) {
  const it = s.syncBase();
  for (;;) {
    const r = await callOrFail(g, () => it.next());
    if (r.done) return;
    yield r.value;
  }
}

/** strings.Replace(key, prefix, destPrefix, 1), on bytes. */
function modifyPrefix(prefix: string, destPrefix: string): (k: Uint8Array) => Uint8Array {
  const p = Buffer.from(prefix);
  const d = Buffer.from(destPrefix);
  return (k) => {
    const b = Buffer.from(k);
    const at = b.indexOf(p);
    if (at < 0) return k;
    return new Uint8Array(Buffer.concat([b.subarray(0, at), d, b.subarray(at + p.length)]));
  };
}
