// One member (or one cluster) per test file: started before the first test, removed after the last.
import { afterAll, beforeAll } from "bun:test";
import { Cluster, type ClusterOptions } from "./cluster.ts";
import { Ctl } from "./etcdctl.ts";
import { Gateway } from "./gateway.ts";
import { Member, type MemberOptions } from "./member.ts";

export interface SuiteMember {
  readonly member: Member;
  readonly ctl: Ctl;
  readonly gw: Gateway;
}

/** Registers beforeAll/afterAll hooks; the returned getter is valid inside tests. */
export function useMember(opts: MemberOptions = {}): () => SuiteMember {
  let current: SuiteMember | undefined;
  beforeAll(async () => {
    const member = await Member.start(opts);
    current = { member, ctl: new Ctl(member.endpoint), gw: new Gateway(member.clientURL) };
  }, 30_000);
  afterAll(async () => {
    await current?.member.cleanup();
  });
  return () => {
    if (!current) throw new Error("member did not start (see beforeAll failure)");
    return current;
  };
}

/** The cluster counterpart of useMember: one cluster for the whole file. */
export function useCluster(opts: ClusterOptions): () => Cluster {
  let current: Cluster | undefined;
  beforeAll(async () => {
    current = await Cluster.start(opts);
  }, 60_000);
  afterAll(async () => {
    await current?.cleanup();
  });
  return () => {
    if (!current) throw new Error("cluster did not start (see beforeAll failure)");
    return current;
  };
}
