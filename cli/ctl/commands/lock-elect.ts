// lock and elect with clientv3/concurrency's recipes (src/client/concurrency.ts), so they
// exclude etcdctl's own lock and election holders on the same name.
import { bytes, Election, Mutex, Session } from "../../../src/client/index.ts";
import { KV, RangeResponseSchema } from "../../../src/gen/rpc_pb.ts";
import { create } from "@bufbuild/protobuf";
import type { Command } from "../command.ts";
import { Exit, fail } from "../exit.ts";
import { callOrFail } from "./util.ts";

function onSignal(): { signal: AbortSignal; stopped: Promise<void> } {
  const ac = new AbortController();
  const stopped = new Promise<void>((resolve) => {
    const f = () => {
      ac.abort();
      resolve();
    };
    process.once("SIGINT", f);
    process.once("SIGTERM", f);
  });
  return { signal: ac.signal, stopped };
}

export const lockCommand: Command = {
  name: "lock",
  use: "lock <lockname> [exec-command arg1 arg2 ...]",
  short: "Acquires a named lock",
  flags: [{ name: "ttl", type: "int", def: "10", usage: "timeout for session" }],
  async run({ args, flags, g }) {
    if (args.length === 0) fail(Exit.BadArgs, "lock takes a lock name argument and an optional command to execute");
    const d = g.display();
    const c = await g.client();
    const ttl = flags.int("ttl") > 0 ? flags.int("ttl") : 60;
    const s = await callOrFail(g, () => Session.create(c, ttl));
    const m = new Mutex(s, args[0]!);
    const { signal, stopped } = onSignal();
    await callOrFail(g, () => m.lock(signal));
    const cmd = args.slice(1);
    if (cmd.length > 0) {
      const { spawn } = await import("node:child_process");
      const code = await new Promise<number | string>((resolve) => {
        const child = spawn(cmd[0]!, cmd.slice(1), {
          stdio: "inherit",
          env: { ETCD_LOCK_KEY: m.key, ETCD_LOCK_REV: String(m.header?.revision ?? 0n), ...process.env },
        });
        child.on("error", (e) => resolve(e.message));
        child.on("exit", (code) => resolve(code ?? 1));
      });
      await callOrFail(g, () => m.unlock());
      s.orphan();
      c.close();
      if (typeof code === "string") fail(Exit.Error, code);
      if (code !== 0) fail(Exit.Error, `exit status ${code}`);
      return;
    }
    const k = await callOrFail(g, () => c.call(KV.method.range, { key: bytes(m.key) }, { deadline: Date.now() + 3_600_000, idempotent: true }));
    if (k.kvs.length === 0) fail(Exit.Error, "lock lost on init");
    d.get(k, RangeResponseSchema);
    const which = await Promise.race([stopped.then(() => "signal" as const), s.done.then(() => "expired" as const)]);
    if (which === "signal") {
      await callOrFail(g, () => m.unlock());
      s.orphan();
      c.close();
      return;
    }
    c.close();
    fail(Exit.Error, "session expired");
  },
};

export const electCommand: Command = {
  name: "elect",
  use: "elect <election-name> [proposal]",
  short: "Observes and participates in leader election",
  flags: [{ name: "listen", short: "l", type: "bool", def: "false", usage: "observation mode" }],
  async run({ args, flags, g }) {
    if (args.length !== 1 && args.length !== 2) fail(Exit.BadArgs, "elect takes one election name argument and an optional proposal argument");
    const listen = flags.bool("listen");
    if (args.length === 1 && !listen) fail(Exit.BadArgs, "no proposal argument but -l not set");
    if (args.length === 2 && listen) fail(Exit.BadArgs, "proposal given but -l is set");
    const d = g.display();
    const c = await g.client();
    const s = await callOrFail(g, () => Session.create(c, 60));
    const e = new Election(s, args[0]!);
    const { signal, stopped } = onSignal();
    if (listen) {
      await callOrFail(g, () =>
        e.observe((header, kv) => d.get(create(RangeResponseSchema, { header, kvs: [kv] }), RangeResponseSchema), signal),
      );
      c.close();
      if (!signal.aborted) fail(Exit.Error, "elect: observer lost");
      return;
    }
    await callOrFail(g, () => e.campaign(args[1]!, signal));
    const r = await callOrFail(g, () => c.call(KV.method.range, { key: bytes(e.key) }, { deadline: Date.now() + 3_600_000, idempotent: true }));
    d.get(r, RangeResponseSchema);
    const which = await Promise.race([stopped.then(() => "signal" as const), s.done.then(() => "expired" as const)]);
    if (which === "expired") {
      c.close();
      fail(Exit.Error, "elect: session expired");
    }
    await callOrFail(g, () => e.resign());
    s.orphan();
    c.close();
  },
};
