// One member per test file: started before the first test, removed after the last.
import { afterAll, beforeAll } from "bun:test";
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
