// `conclave discovery` flags: etcd's discoveryserver names, shorthands and DISC_* variables,
// flags over variables, and a clear error for each bad value.
import { expect, test } from "bun:test";
import { parseDiscoveryArgs } from "../../discovery/flags.ts";
import { createRateLimiter } from "../../discovery/rate-limit.ts";

const run = (args: string[], env: Record<string, string> = {}) => {
  const r = parseDiscoveryArgs(args, env);
  if (r.kind !== "run") throw new Error("expected a config");
  return r.config;
};
const fails = (args: string[], env: Record<string, string> = {}) => {
  try {
    parseDiscoveryArgs(args, env);
    return "no error";
  } catch (e) {
    return (e as Error).message;
  }
};

test("defaults are the discoveryserver's (:8087, 168h, 5m) plus ours", () => {
  const c = run([]);
  expect(c.addr).toEqual({ host: "", port: 8087 });
  expect([c.host, c.etcd, c.minAgeMs, c.gcFreqMs, c.dataDir]).toEqual(["", [], 168 * 3600_000, 300_000, "discovery.conclave"]);
  expect([c.newRate, c.newBurst, c.maxSize, c.longPollMs]).toEqual([1, 20, 100, 60_000]);
});

test("long and short flags, = or a separate value; flags win over DISC_* variables", () => {
  const env = { DISC_ADDR: "127.0.0.1:1", DISC_MINAGE: "1h", DISC_ETCD: "http://e1:2379,https://e2:2379" };
  const c = run(["-a", "[::1]:9000", "--host=https://d.example.com", "-g", "10s"], env);
  expect(c.addr).toEqual({ host: "::1", port: 9000 });
  expect(c.host).toBe("https://d.example.com");
  expect(c.minAgeMs).toBe(3600_000);
  expect(c.gcFreqMs).toBe(10_000);
  expect(c.etcd).toEqual(["http://e1:2379", "https://e2:2379"]);
  expect(run(["--etcd-insecure-skip-tls-verify"]).etcdInsecureSkipTlsVerify).toBe(true);
  expect(parseDiscoveryArgs(["--help"], {}).kind).toBe("help");
});

test("bad values name the flag", () => {
  expect(fails(["--nope"])).toBe("unknown flag: --nope");
  expect(fails(["-z"])).toBe("unknown shorthand flag: 'z' in -z");
  expect(fails(["--addr"])).toBe("flag needs an argument: --addr");
  expect(fails(["--addr", "8087"])).toBe('invalid argument "8087" for "--addr" flag: want host:port or :port');
  expect(fails(["--host", "https://d.example.com/"])).toContain('for "--host" flag');
  expect(fails(["--host", "d.example.com"])).toContain('for "--host" flag');
  expect(fails(["--minage", "0s"])).toBe('invalid argument "0s" for "--minage" flag: must be at least 1000ms');
  expect(fails(["--max-size", "0"])).toBe('invalid argument "0" for "--max-size" flag: must be an integer from 1 to 1000');
  expect(fails(["--new-rate", "-1"])).toBe('invalid argument "-1" for "--new-rate" flag: must be a number');
  expect(fails(["--cert-file", "c.pem"])).toBe("--cert-file and --key-file go together");
  expect(fails(["--etcd-prefix", "x/"])).toContain('for "--etcd-prefix" flag');
});

test("rate limiter: a burst, then `rate` per second, per key; idle keys leave a full table first", () => {
  const l = createRateLimiter({ rate: 2, burst: 3, maxKeys: 2 });
  expect([0, 1, 2, 3].map(() => l.take("a", 0))).toEqual([0, 0, 0, 1]);
  expect(l.take("a", 500)).toBe(0); // one token back after half a second
  expect(l.take("a", 500)).toBe(1);
  expect(l.take("b", 500)).toBe(0);
  // A third key evicts whichever bucket is full again (or the oldest): the table stays at 2.
  expect(l.take("c", 10_000)).toBe(0);
  expect(createRateLimiter({ rate: 0, burst: 1 }).take("x", 0)).toBe(0);
});
