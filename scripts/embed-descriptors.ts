// Build step: each generated file's descriptor as an object literal (src/protobuf/embedded-file.ts
// says why). The plugin loads the generated module here, at build time, takes the
// FileDescriptorProto its fileDesc call decoded, and writes that object out in place of the call.
import type { GenFile } from "@bufbuild/protobuf/codegenv2";
import { resolve } from "node:path";

const EMBEDDED_FILE = resolve(import.meta.dir, "..", "src", "protobuf", "embedded-file.ts");

/**
 * The two literal arguments of embeddedFile for a file: the field defaults per descriptor message
 * type, and the function building the file's whole descriptor graph — the DescFile with its
 * messages, fields, enums and services and the FileDescriptorProto beneath them — as protobuf-es's
 * registry built it. Objects of the files it imports are reached through `I` (the imports).
 * Anything of a shape this does not know (accessors, symbols, maps, other functions) stops the
 * build instead of being written out wrongly.
 */
export function embeddedFileSource(file: GenFile): { defaults: string; root: string } {
  // Objects of imported files: a path from the import that reaches them.
  const external = new Map<object, string>();
  file.dependencies.forEach((dep, i) => {
    const queue: Array<[object, string]> = [[dep, `I[${i}]`]];
    while (queue.length > 0) {
      const [o, path] = queue.shift()!;
      if (external.has(o)) continue;
      external.set(o, path);
      for (const [k, v] of Object.entries(o)) {
        if (typeof v === "object" && v !== null && !external.has(v)) queue.push([v, `${path}[${JSON.stringify(k)}]`]);
      }
    }
  });
  const fail = (what: string): never => {
    throw new Error(`embed-descriptors: ${file.proto.name}: ${what}`);
  };
  // How often each object of this file is referenced: once-referenced objects are written inline
  // in their one referrer's literal, the others get a variable.
  const refs = new Map<object, number>();
  const count = (o: object) => {
    if (external.has(o)) return;
    const n = (refs.get(o) ?? 0) + 1;
    refs.set(o, n);
    if (n > 1) return;
    if (Object.getOwnPropertySymbols(o).length > 0) fail("an object with symbol keys");
    for (const [k, d] of Object.entries(Object.getOwnPropertyDescriptors(o))) {
      if (!("value" in d) || (!Array.isArray(o) && (!d.enumerable || !d.writable || !d.configurable))) fail(`${k}: not a plain data property`);
      if (typeof d.value === "object" && d.value !== null) count(d.value);
    }
  };
  count(file);
  refs.set(file, 2); // the root is returned through its variable
  const types = new Map<object, number>();
  const defaults: string[] = [];
  const vars = new Map<object, number>();
  const state = new Map<object, "open" | "done">();
  const statements: string[] = [];
  // Back references (cycles: a field's parent message, a method's service): written as 0 in the
  // literal, so the key keeps its place, and set once every object exists.
  const patches: string[] = [];
  const key = (k: string) => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k));
  /** The literal of o; references to objects still being written become patches at `path`. */
  const literal = (o: object, path: string): string => {
    const proto = Object.getPrototypeOf(o) as object | null;
    const value = (v: unknown, k: string, at: string): string => {
      if (typeof v === "string" || typeof v === "boolean") return JSON.stringify(v);
      if (typeof v === "number") return Object.is(v, -0) || !Number.isFinite(v) ? fail(`${k}: number ${v}`) : String(v);
      if (typeof v === "bigint") return `${v}n`;
      if (v === undefined) return "undefined";
      if (typeof v === "object" && v !== null) {
        const ext = external.get(v);
        if (ext !== undefined) return ext;
        if (refs.get(v) === 1) return literal(v, at);
        const st = state.get(v);
        if (st === undefined) emit(v);
        if (state.get(v) === "open") {
          patches.push(`${at}=o[${vars.get(v)}];`);
          return "0";
        }
        return `o[${vars.get(v)}]`;
      }
      if (typeof v === "function") {
        // The registry's functions: descriptions and proto3 defaults, fixed for a given descriptor.
        // Closures of two shared functions (S, U), not a function literal each: a thousand
        // function literals would stay in the member's memory as compiled code (~1.5 MB).
        if (k === "toString") return `S(${JSON.stringify((v as () => string).call(o))})`;
        if (k === "getDefaultValue") {
          const d = (v as () => unknown)();
          if (d === undefined) return "U";
          if (typeof d === "string" || typeof d === "number" || typeof d === "boolean" || typeof d === "bigint") return `()=>${value(d, k, at)}`;
        }
      }
      return fail(`${k}: unsupported value ${String(v)}`);
    };
    if (Array.isArray(o)) {
      if (proto !== Array.prototype) fail("an array with another prototype");
      return `[${o.map((v, i) => value(v, String(i), `${path}[${i}]`)).join(",")}]`;
    }
    let head = "";
    if (proto !== Object.prototype) {
      // A descriptor message (google.protobuf.*Proto): its unset fields live on a shared prototype.
      if (proto === null || Object.getPrototypeOf(proto) !== Object.prototype || typeof (o as { $typeName?: unknown }).$typeName !== "string") fail("an object with an unknown prototype");
      let t = types.get(proto!);
      if (t === undefined) {
        t = defaults.length;
        types.set(proto!, t);
        const entries = Object.entries(Object.getOwnPropertyDescriptors(proto!)).map(([k, d]) => {
          if (!("value" in d) || !d.enumerable || !d.writable || !d.configurable || (typeof d.value === "object" && d.value !== null)) fail(`${k}: unexpected default`);
          return `${key(k)}:${value(d.value, k, "")}`;
        });
        defaults.push(`{${entries.join(",")}}`);
      }
      head = `__proto__:P[${t}],`;
    }
    const props = Object.keys(o).map((k) => `${key(k)}:${value((o as Record<string, unknown>)[k], k, `${path}[${JSON.stringify(k)}]`)}`);
    return `{${head}${props.join(",")}}`;
  };
  /** Writes o (after the objects it refers to, where no cycle forbids) as `o[n]=literal`. */
  const emit = (o: object) => {
    const n = vars.size;
    vars.set(o, n);
    state.set(o, "open");
    const lit = literal(o, `o[${n}]`);
    state.set(o, "done");
    statements.push(`o[${n}]=${lit};`);
  };
  emit(file);
  return { defaults: `[${defaults.join(",")}]`, root: `(P,I)=>{const o=[],S=(t)=>function(){return t},U=()=>undefined;\n${[...statements, ...patches].join("\n")}\nreturn o[0];}` };
}

const FILE_DESC = /(export const (file_\w+): GenFile = \/\*@__PURE__\*\/\s*)fileDesc\("[A-Za-z0-9+/=]*"(?:, (\[[\w, ]*\]))?\);/;
const DESC_CALL = /\b(messageDesc|enumDesc|serviceDesc)\((file_\w+), (\d+(?:, \d+)*)\)/g;

/**
 * The source of a generated module with its descriptors embedded: fileDesc becomes embeddedFile
 * with the literal of `file` (what the module's fileDesc call returns), and each messageDesc,
 * enumDesc and serviceDesc call becomes the property path it walks (a call per export, with an
 * array and a reduce each, is itself measurable in a cold start).
 */
export function embedGenerated(src: string, file: GenFile, where: string): string {
  const found = FILE_DESC.exec(src);
  if (found === null) throw new Error(`embed-descriptors: no fileDesc call in ${where}; update scripts/embed-descriptors.ts`);
  const [, head, , imports] = found;
  // embeddedFileSource reaches the imports by their position in file.dependencies.
  const names = imports === undefined ? [] : imports.slice(1, -1).split(",").map((n) => n.trim()).filter((n) => n !== "");
  const expected = file.dependencies.map((d) => `file_${d.name.replace(/\W/g, "_")}`);
  if (names.join() !== expected.join()) throw new Error(`embed-descriptors: ${where} imports [${names}], its descriptor depends on [${expected}]`);
  const { defaults, root } = embeddedFileSource(file);
  const call = `embeddedFile(${defaults}, ${root}, ${imports ?? "[]"});`;
  const body = src.replace(FILE_DESC, () => `${head}${call}`).replace(DESC_CALL, (_, fn: string, f: string, args: string) => {
    const path = args.split(", ").map(Number);
    if (fn === "serviceDesc") {
      if (path.length !== 1) throw new Error(`embed-descriptors: ${where}: nested service ${args}`);
      return `${f}.services[${path[0]}]`;
    }
    const last = fn === "enumDesc" ? path.pop()! : undefined;
    if (last !== undefined && path.length === 0) return `${f}.enums[${last}]`;
    const msg = `${f}.messages[${path[0]}]${path.slice(1).map((i) => `.nestedMessages[${i}]`).join("")}`;
    return last === undefined ? msg : `${msg}.nestedEnums[${last}]`;
  });
  return `import { embeddedFile } from ${JSON.stringify(EMBEDDED_FILE)};\n${body}`;
}

/** Rewrites src/gen/*_pb.ts so the built program carries descriptors as literals. */
export const embedDescriptors: import("bun").BunPlugin = {
  name: "embed-descriptors",
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]gen[\\/]\w+_pb\.ts$/ }, async (args) => {
      const src = await Bun.file(args.path).text();
      const name = FILE_DESC.exec(src)?.[2];
      const file = name === undefined ? undefined : ((await import(args.path)) as Record<string, GenFile>)[name];
      if (file === undefined) throw new Error(`embed-descriptors: ${args.path} exports no file descriptor; update scripts/embed-descriptors.ts`);
      return { contents: embedGenerated(src, file, args.path), loader: "ts" };
    });
  },
};
