// Builds dist/conclave: one self-contained executable (bun build --compile).
//
// libsql (the SQLite driver) loads its native addon with a computed `require(`@libsql/${target}`)`,
// which a bundler cannot follow; the binary would then look for node_modules at run time
// and fail outside the source tree. The plugin below rewrites that require into a static
// one for the platform we build on, so the addon is embedded in the executable.
import { existsSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { embedDescriptors } from "./embed-descriptors.ts";

const root = resolve(import.meta.dir, "..");

function libsqlTarget(): string {
  const arch = process.arch === "x64" ? "x64" : process.arch;
  if (process.platform === "linux") {
    // Bun reports musl on some glibc systems; prefer glibc when its loader exists.
    const musl = !existsSync("/lib64/ld-linux-x86-64.so.2") && !existsSync("/lib/ld-linux-aarch64.so.1");
    return `linux-${arch}-${musl ? "musl" : "gnu"}`;
  }
  if (process.platform === "darwin") return `darwin-${arch}`;
  return `win32-${arch}-msvc`;
}

const target = libsqlTarget();
const staticRequire: import("bun").BunPlugin = {
  name: "libsql-static-require",
  setup(build) {
    // The `libsql` package itself, not drizzle-orm/libsql or @libsql/*.
    build.onLoad({ filter: /[\\/]node_modules[\\/]libsql[\\/]index\.js$/ }, async (args) => {
      const src = await Bun.file(args.path).text();
      const dynamic = "return require(`@libsql/${target}`);";
      if (!src.includes(dynamic)) {
        throw new Error(`libsql loader changed shape; update scripts/build.ts (${args.path})`);
      }
      return { contents: src.replace(dynamic, `return require("@libsql/${target}");`), loader: "js" };
    });
  },
};

mkdirSync(resolve(root, "dist"), { recursive: true });
const result = await Bun.build({
  // The state file's checkpointer and side copy run on worker threads: their scripts are entry
  // points of their own (src/runtime/checkpointer.ts and side-copy.ts start them).
  entrypoints: [resolve(root, "src/main.ts"), resolve(root, "src/runtime/checkpoint-worker.ts"), resolve(root, "src/runtime/side-copy-worker.ts")],
  compile: { outfile: resolve(root, "dist/conclave") },
  // Each subcommand's code in its own chunk, loaded only when that subcommand runs: without
  // splitting, every module's imports (node:net, node:http2, the SQLite addon) were evaluated at
  // start, and `conclave --version` took 190-270 ms instead of 40-70 ms.
  splitting: true,
  outdir: resolve(root, "dist"),
  minify: { syntax: true, whitespace: true },
  sourcemap: "none",
  // Modules are compiled to bytecode at build time, so a start parses nothing: `--version` 42 ->
  // 21 ms, `ctl get` 97 -> 75 ms (docs/benchmarks.md). Splitting with bytecode needs ESM.
  bytecode: true,
  format: "esm",
  // Descriptors of the generated protobuf code as literals, not bytes to decode at every start.
  plugins: [staticRequire, embedDescriptors],
  define: { "process.env.CONCLAVE_BUILD": JSON.stringify("compiled") },
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log(`built dist/conclave (libsql ${target})`);
