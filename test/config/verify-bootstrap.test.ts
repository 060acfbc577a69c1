import { expect, test } from "bun:test";
import { verifyBootstrap, verifyClusterSource } from "../../src/config/index.ts";
import { run } from "./helpers.ts";

const err = (f: () => void): string => {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return "no error";
};

test("the default configuration bootstraps", () => {
  const c = run([]).config;
  expect(err(() => verifyBootstrap(c))).toBe("no error");
  expect(err(() => verifyClusterSource(c))).toBe("no error");
});

test("the local name must be in the initial cluster", () => {
  const c = run(["--name=c", "--initial-cluster=a=http://10.0.0.1:2380,b=http://10.0.0.2:2380"]).config;
  expect(err(() => verifyBootstrap(c))).toBe(`couldn't find local name "c" in the initial cluster configuration`);
});

test("a URL may not be listed twice", () => {
  const c = run(["--name=a", "--initial-cluster=b=http://10.0.0.1:2380,a=http://10.0.0.1:2380"]).config;
  expect(err(() => verifyBootstrap(c))).toBe(
    "initial cluster a=http://10.0.0.1:2380,b=http://10.0.0.1:2380 has duplicate url",
  );
});

test("an empty initial cluster needs discovery", () => {
  expect(err(() => verifyClusterSource(run(["--initial-cluster="]).config))).toBe(
    "initial cluster unset and no discovery URL found",
  );
  expect(err(() => verifyClusterSource(run(["--discovery=http://d.example/t"]).config))).toBe("no error");
});
