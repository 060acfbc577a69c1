import { expect, test } from "bun:test";
import { FTL_VARIABLE, serverReexec, type ProcessView } from "../../src/runtime/jit-policy.ts";

const base: ProcessView = {
  env: { PATH: "/usr/bin", HOME: "/root", EMPTY: undefined },
  argv: ["bun", "/$bunfs/root/conclave", "--name", "m0", "--data-dir", "d"],
  argv0: "./conclave",
  execArgv: [],
  execPath: "/opt/conclave",
  isBun: true,
};

test("a compiled executable restarts itself with the same arguments and FTL off", () => {
  const re = serverReexec(base);
  expect(re).toEqual({
    file: "/opt/conclave",
    args: ["./conclave", "--name", "m0", "--data-dir", "d"],
    env: { PATH: "/usr/bin", HOME: "/root", [FTL_VARIABLE]: "0" },
  });
});

test("`bun [flags] src/main.ts args` restarts as the same command line", () => {
  const re = serverReexec({
    ...base,
    argv: ["/usr/lib/bun", "/src/main.ts", "--name", "m0"],
    argv0: "bun",
    execArgv: ["--smol"],
    execPath: "/usr/lib/bun",
  });
  expect(re?.file).toBe("/usr/lib/bun");
  expect(re?.args).toEqual(["bun", "--smol", "/src/main.ts", "--name", "m0"]);
  expect(re?.env[FTL_VARIABLE]).toBe("0");
});

test("no restart once the variable is set, whatever its value (the user's choice stands)", () => {
  expect(serverReexec({ ...base, env: { ...base.env, [FTL_VARIABLE]: "0" } })).toBeUndefined();
  expect(serverReexec({ ...base, env: { ...base.env, [FTL_VARIABLE]: "1" } })).toBeUndefined();
});

test("no restart outside Bun or from an entry point it cannot name exactly", () => {
  expect(serverReexec({ ...base, isBun: false })).toBeUndefined();
  expect(serverReexec({ ...base, argv: ["bun"] })).toBeUndefined();
  // `bun run start`-style or a REPL: restarting would run something else.
  expect(serverReexec({ ...base, argv: ["bun", "start", "--name", "m0"] })).toBeUndefined();
});
