import { expect, test } from "bun:test";
import { FLAGS, parseServerConfig } from "../../src/config/index.ts";

const parse = (argv: string[]) => parseServerConfig(argv, {}, () => "");

test("--version prints etcd's shape with our name", () => {
  expect(parse(["--version"])).toEqual({ kind: "version", text: "conclave Version: 0.1.0\nAPI Version: 3.4\n" });
  expect(parse(["-version=true", "--name=x"]).kind).toBe("version");
  expect(parse(["--version=false"]).kind).toBe("run");
});

test("-h, -help and --help print help, even after other flags", () => {
  for (const a of [["-h"], ["--help"], ["-help"], ["--name=x", "-h"]]) expect(parse(a).kind).toBe("help");
});

test("help lists flags in etcd's groups with defaults", () => {
  const r = parse(["--help"]);
  if (r.kind !== "help") throw new Error("expected help");
  const t = r.text;
  const groups = ["Member:", "Clustering:", "Security:", "Auth:", "Logging:", "Experimental feature:", "Unsafe feature:"];
  const at = groups.map((g) => t.indexOf(`\n${g}\n`));
  expect(at.every((i) => i > 0)).toBe(true);
  expect([...at].sort((a, b) => a - b)).toEqual(at);
  expect(t).toContain("  --name 'default'\n    Human-readable name for this member.\n");
  expect(t).toContain("  --data-dir '${name}.conclave'\n");
  expect(t).toContain("  --initial-cluster 'default=http://localhost:2380'\n");
  expect(t).toContain("  --heartbeat-interval '100'\n");
  expect(t).toContain("  --experimental-watch-progress-notify-interval '10m'\n");
  expect(t).toContain("  --unsafe-no-fsync 'false'\n");
  // Every grouped flag appears, and in the section of its group.
  for (const d of FLAGS) {
    if (d.group === undefined) continue;
    const i = t.indexOf(`  --${d.name} '`);
    expect(i).toBeGreaterThan(t.indexOf(`\n${d.group}:\n`));
  }
  expect(t).not.toContain("etcd [flags]");
});
