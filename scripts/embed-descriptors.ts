// Build step: each generated file's descriptor as an object literal (src/protobuf/embedded-file.ts
// says why). The plugin loads the generated module here, at build time, takes the
// FileDescriptorProto its fileDesc call decoded, and writes that object out in place of the call.
import type { GenFile } from "@bufbuild/protobuf/codegenv2";
import { resolve } from "node:path";

const EMBEDDED_FILE = resolve(import.meta.dir, "..", "src", "protobuf", "embedded-file.ts");

/**
 * The two literal arguments of embeddedFile for a file: the field defaults per message type and
 * the function building the FileDescriptorProto (`m(type, ownFields)` per message).
 */
export function embeddedFileSource(file: GenFile): { defaults: string; root: string } {
  const types = new Map<string, { index: number; proto: object }>();
  const defaults: string[] = [];
  const value = (v: unknown, path: string): string => {
    if (typeof v === "string" || typeof v === "boolean") return JSON.stringify(v);
    if (typeof v === "number") {
      if (!Number.isFinite(v) || Object.is(v, -0)) throw new Error(`embed-descriptors: ${path}: unsupported number ${v}`);
      return String(v);
    }
    if (v === undefined) return "undefined";
    if (Array.isArray(v)) return `[${v.map((x, i) => value(x, `${path}[${i}]`)).join(",")}]`;
    if (typeof v === "object" && v !== null && typeof (v as { $typeName?: unknown }).$typeName === "string") return message(v as Record<string, unknown>, path);
    throw new Error(`embed-descriptors: ${path}: unsupported value ${String(v)}`);
  };
  const message = (msg: Record<string, unknown>, path: string): string => {
    const typeName = msg.$typeName as string;
    const proto = Object.getPrototypeOf(msg) as object;
    if (Object.getPrototypeOf(proto) !== Object.prototype) throw new Error(`embed-descriptors: ${path}: unexpected prototype chain`);
    let t = types.get(typeName);
    if (t === undefined) {
      t = { index: defaults.length, proto };
      types.set(typeName, t);
      const d = Object.entries(Object.getOwnPropertyDescriptors(proto)).map(([k, desc]) => {
        if (!("value" in desc) || !desc.enumerable || !desc.writable || !desc.configurable) throw new Error(`embed-descriptors: ${typeName}.${k}: unexpected default property`);
        return `${JSON.stringify(k)}:${value(desc.value, `${typeName}.${k}`)}`;
      });
      defaults.push(`{${d.join(",")}}`);
    } else if (t.proto !== proto) {
      throw new Error(`embed-descriptors: ${path}: two prototypes for ${typeName}`);
    }
    const own = Object.keys(msg).map((k) => `${JSON.stringify(k)}:${value(msg[k], `${path}.${k}`)}`);
    return `m(${t.index},{${own.join(",")}})`;
  };
  const root = message(file.proto as unknown as Record<string, unknown>, file.proto.name);
  return { defaults: `[${defaults.join(",")}]`, root: `(m)=>${root}` };
}

const FILE_DESC = /(export const (file_\w+): GenFile = \/\*@__PURE__\*\/\s*)fileDesc\("[A-Za-z0-9+/=]*"(?:, (\[[\w, ]*\]))?\);/;

/** Rewrites src/gen/*_pb.ts so the built program carries descriptors as literals. */
export const embedDescriptors: import("bun").BunPlugin = {
  name: "embed-descriptors",
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]gen[\\/]\w+_pb\.ts$/ }, async (args) => {
      const src = await Bun.file(args.path).text();
      const found = FILE_DESC.exec(src);
      if (found === null) throw new Error(`embed-descriptors: no fileDesc call in ${args.path}; update scripts/embed-descriptors.ts`);
      const [, head, name, imports] = found;
      const file = ((await import(args.path)) as Record<string, GenFile>)[name!];
      if (file === undefined) throw new Error(`embed-descriptors: ${args.path} exports no ${name}`);
      const { defaults, root } = embeddedFileSource(file);
      const call = `embeddedFile(${defaults}, ${root}${imports ? `, ${imports}` : ""});`;
      const contents = `import { embeddedFile } from ${JSON.stringify(EMBEDDED_FILE)};\n${src.replace(FILE_DESC, () => `${head}${call}`)}`;
      return { contents, loader: "ts" };
    });
  },
};
