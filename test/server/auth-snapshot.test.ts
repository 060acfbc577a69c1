// A follower cut off while auth changes, then brought back by a snapshot (the internal image):
// it takes the leader's auth tables (users, passwords, the revision), reports the same Hash,
// and no longer honours a simple token it knew from before: the entry that changed that user's
// password was never applied here, so nothing else would have told it.
import { afterEach, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import {
  AuthEnableRequestSchema,
  AuthenticateRequestSchema,
  AuthUserAddRequestSchema,
  AuthUserChangePasswordRequestSchema,
  AuthUserDeleteRequestSchema,
  AuthUserGrantRoleRequestSchema,
  PutRequestSchema,
} from "../../src/gen/rpc_pb.ts";
import { Errors } from "../../src/rpctypes/index.ts";
import type { RequestContext } from "../../src/server/types.ts";
import { enc, TestCluster, type TestMember } from "./harness.ts";

let cl: TestCluster | undefined;
afterEach(async () => {
  await cl?.cleanup();
  cl = undefined;
});

const asRoot = (m: TestMember): RequestContext => ({ auth: { username: "root", revision: m.server.auth.revision() } });

async function login(c: TestCluster, m: TestMember, name: string, password: string): Promise<string> {
  return (await c.run(m.server.authServer.authenticate(create(AuthenticateRequestSchema, { name, password }), {}))).token;
}

function identify(m: TestMember, token: string): string {
  try {
    const ai = m.server.auth.identify(token, undefined);
    if (ai instanceof Promise) return "pending";
    return ai?.username ?? "none";
  } catch (e) {
    return (e as Error).message;
  }
}

test("a follower brought back by a snapshot takes the auth tables and drops the simple tokens it knew", async () => {
  cl = await TestCluster.start(3, { snapshotCount: 20, catchUpEntries: 2 });
  const leader = cl.leader()!;
  const f = cl.followers()[0]!;
  const s = leader.server.authServer;
  await cl.run(s.userAdd(create(AuthUserAddRequestSchema, { name: "root", password: "rootpw" }), {}));
  await cl.run(s.userGrantRole(create(AuthUserGrantRoleRequestSchema, { user: "root", role: "root" }), {}));
  await cl.run(s.userAdd(create(AuthUserAddRequestSchema, { name: "dave", password: "davepw" }), {}));
  await cl.run(s.userAdd(create(AuthUserAddRequestSchema, { name: "bob", password: "bobpw" }), {}));
  await cl.run(s.authEnable(create(AuthEnableRequestSchema), {}));
  const daveToken = await login(cl, f, "dave", "davepw");
  await cl.until(() => identify(f, daveToken) === "dave");

  cl.net.down.add(f.id);
  await cl.run(s.userChangePassword(create(AuthUserChangePasswordRequestSchema, { name: "dave", password: "davepw2" }), asRoot(leader)));
  await cl.run(s.userDelete(create(AuthUserDeleteRequestSchema, { name: "bob" }), asRoot(leader)));
  for (let i = 0; i < 40; i++) await cl.run(leader.server.put(create(PutRequestSchema, { key: enc(`k${i}`), value: enc("v") }), asRoot(leader)));
  expect(leader.m!.log.firstIndex()).toBeGreaterThan(f.server.loop.sm.appliedIndex + 1); // only a snapshot can help
  expect(identify(f, daveToken)).toBe("dave"); // still trusted while it lags
  cl.net.down.delete(f.id);
  await cl.until(() => f.server.loop.sm.appliedIndex >= leader.server.loop.sm.appliedIndex);
  expect(f.server.metrics()).toMatch(/^etcd_network_snapshot_receive_success\{From="[0-9a-f]+"\} 1$/m);

  expect(f.server.loop.sm.auth.state()).toEqual(leader.server.loop.sm.auth.state());
  expect(f.server.loop.sm.auth.user("bob")).toBeUndefined();
  expect(await f.server.loop.sm.hash()).toBe(await leader.server.loop.sm.hash());
  expect(identify(f, daveToken)).toBe(Errors.invalidAuthToken.message);
  // Tokens issued after the install are registered here as the entries apply.
  const fresh = await login(cl, leader, "dave", "davepw2");
  await cl.until(() => identify(f, fresh) === "dave");
}, 60_000);
