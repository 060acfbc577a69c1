// The checks every bootstrap source ends in (etcd's VerifyBootstrap), on static flags here:
// the local member present, no URL listed twice, advertised peer URLs equal after resolution,
// and a cluster source at all.
import { expect, test } from "bun:test";
import { resolveInitialCluster, type Resolver, verifyInitialCluster } from "../../src/bootstrap/index.ts";
import { computeMemberId } from "../../src/membership/ids.ts";
import { run } from "../config/helpers.ts";

const resolver: Resolver = {
  srv: () => Promise.reject(new Error("no SRV here")),
  address: async (h) => ({ localhost: "127.0.0.1", "m1.example": "10.0.0.1" })[h] ?? h,
};
const fx = { resolver, sleep: async () => {}, logger: { info() {}, warn() {}, error() {} }, readFile: () => new Uint8Array(), memberId: computeMemberId };

async function check(args: string[]): Promise<string> {
  try {
    const c = run(args).config;
    await verifyInitialCluster(await resolveInitialCluster(c, fx), c, resolver);
    return "no error";
  } catch (e) {
    return (e as Error).message;
  }
}

test("the default configuration bootstraps, as one member with etcd's default token", async () => {
  const c = run([]).config;
  const ic = await resolveInitialCluster(c, fx);
  expect([...ic.members]).toEqual([["default", ["http://localhost:2380"]]]);
  expect([ic.token, ic.source]).toEqual(["etcd-cluster", "static"]);
  expect(await check([])).toBe("no error");
});

test("the local name must be in the initial cluster; a URL may not be listed twice", async () => {
  expect(await check(["--name=c", "--initial-cluster=a=http://10.0.0.1:2380,b=http://10.0.0.2:2380"])).toBe(
    `couldn't find local name "c" in the initial cluster configuration`,
  );
  expect(await check(["--name=a", "--initial-advertise-peer-urls=http://10.0.0.1:2380", "--initial-cluster=b=http://10.0.0.1:2380,a=http://10.0.0.1:2380"])).toBe(
    "initial cluster a=http://10.0.0.1:2380,b=http://10.0.0.1:2380 has duplicate url",
  );
});

test("advertised peer URLs must equal this member's entry once host names are resolved", async () => {
  expect(await check(["--name=a", "--initial-advertise-peer-urls=http://10.0.0.1:2380", "--initial-cluster=a=http://m1.example:2380"])).toBe("no error");
  expect(await check(["--name=a", "--initial-advertise-peer-urls=http://10.0.0.9:2380", "--initial-cluster=a=http://m1.example:2380"])).toMatch(
    /^--initial-cluster has a=http:\/\/m1.example:2380 but missing from --initial-advertise-peer-urls=http:\/\/10.0.0.9:2380 \(/,
  );
});

test("an empty initial cluster needs discovery", async () => {
  expect(await check(["--initial-cluster="])).toBe("initial cluster unset and no discovery URL found");
});
