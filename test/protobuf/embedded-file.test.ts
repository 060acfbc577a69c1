// The build writes each generated file's descriptors as a literal (scripts/embed-descriptors.ts,
// src/protobuf/embedded-file.ts). These tests rebuild every file of src/gen that way and hold it
// to what fileDesc builds: the same graph of descriptor objects, the same FileDescriptorProto
// (own fields, defaults, bytes) and the same descriptors (messages, fields, enums, services), so
// the built program encodes, decodes and prints exactly as the sources do.
import { describe, expect, test } from "bun:test";
import { type DescField, type DescMessage, toBinary } from "@bufbuild/protobuf";
import type { GenFile } from "@bufbuild/protobuf/codegenv2";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { embeddedFileSource, embedGenerated } from "../../scripts/embed-descriptors.ts";
import { embeddedFile } from "../../src/protobuf/index.ts";

const genDir = resolve(import.meta.dir, "..", "..", "src", "gen");

const modules = readdirSync(genDir).filter((n) => n.endsWith("_pb.ts")).sort();

async function generatedFiles(): Promise<GenFile[]> {
  const files: GenFile[] = [];
  for (const name of modules) {
    const mod = (await import(resolve(genDir, name))) as Record<string, unknown>;
    for (const [k, v] of Object.entries(mod)) if (k.startsWith("file_")) files.push(v as GenFile);
  }
  return files;
}

function rebuild(file: GenFile): GenFile {
  const { defaults, root } = embeddedFileSource(file);
  const make = new Function("embeddedFile", "imports", `return embeddedFile(${defaults}, ${root}, imports);`) as (e: typeof embeddedFile, i: GenFile[]) => GenFile;
  return make(embeddedFile, [...file.dependencies]);
}

/**
 * The two descriptor graphs are the same: walked side by side, each object of the original has
 * one counterpart (imported files' objects are the very same ones), with the same own keys in the
 * same order, the same defaults behind them, equal values, and functions that answer alike.
 */
function sameGraph(a: GenFile, b: GenFile): number {
  const pairs = new Map<object, object>();
  const imported = new Set<object>();
  const collect = (o: object) => {
    if (imported.has(o)) return;
    imported.add(o);
    for (const v of Object.values(o)) if (typeof v === "object" && v !== null) collect(v);
  };
  for (const d of a.dependencies) collect(d);
  const walk = (x: unknown, y: unknown, path: string): void => {
    if (typeof x === "function") {
      expect(typeof y, path).toBe("function");
      return;
    }
    if (typeof x !== "object" || x === null) {
      expect(y, path).toBe(x);
      return;
    }
    if (imported.has(x)) {
      expect(y === x, `${path} is the imported object itself`).toBe(true);
      return;
    }
    const seen = pairs.get(x);
    if (seen !== undefined) {
      expect(seen === y, `${path} is the same object wherever it is reached`).toBe(true);
      return;
    }
    expect(typeof y === "object" && y !== null, path).toBe(true);
    pairs.set(x, y as object);
    const o = x as Record<string, unknown>;
    const p = y as Record<string, unknown>;
    expect(Array.isArray(p), path).toBe(Array.isArray(o));
    expect(Object.keys(p), `${path} own keys`).toEqual(Object.keys(o));
    const po = Object.getPrototypeOf(o) as object;
    const pp = Object.getPrototypeOf(p) as object;
    if (po === Object.prototype || po === Array.prototype) expect(pp === po, `${path} prototype`).toBe(true);
    else expect(Object.entries(pp), `${path} defaults`).toEqual(Object.entries(po));
    for (const k of Object.keys(o)) {
      walk(o[k], p[k], `${path}.${k}`);
      if (k === "toString") expect((p[k] as () => string).call(p), `${path}.toString()`).toBe((o[k] as () => string).call(o));
      if (k === "getDefaultValue" && typeof o[k] === "function") expect((p[k] as () => unknown)(), `${path}.getDefaultValue()`).toEqual((o[k] as () => unknown)());
    }
    for (const k of Object.keys(po)) if (!Object.hasOwn(o, k)) expect(p[k], `${path}.${k} (default)`).toEqual(o[k]);
  };
  walk(a, b, a.proto.name);
  return pairs.size;
}

/** Every property a reader can see: own fields, then defaults from the prototype, recursively. */
function sameMessage(a: unknown, b: unknown, path: string): void {
  if (Array.isArray(a) || Array.isArray(b)) {
    expect(Array.isArray(a) && Array.isArray(b), path).toBe(true);
    const x = a as unknown[];
    const y = b as unknown[];
    expect(y.length, path).toBe(x.length);
    x.forEach((v, i) => sameMessage(v, y[i], `${path}[${i}]`));
    return;
  }
  if (typeof a !== "object" || a === null) {
    expect(b, path).toBe(a);
    return;
  }
  const o = a as Record<string, unknown>;
  const p = b as Record<string, unknown>;
  expect(Object.keys(p), `${path} own fields`).toEqual(Object.keys(o));
  const inherited = Object.keys(Object.getPrototypeOf(o) as object);
  expect(Object.keys(Object.getPrototypeOf(p) as object), `${path} defaults`).toEqual(inherited);
  for (const k of new Set([...Object.keys(o), ...inherited])) sameMessage(o[k], p[k], `${path}.${k}`);
}

function fieldShape(field: DescField): unknown {
  // Every property of the field, whatever its kind (list, map, scalar, enum, message).
  const f = field as unknown as Record<string, unknown> & { message?: DescMessage; enum?: { typeName: string }; oneof?: { name: string }; getDefaultValue?: () => unknown };
  const keys = ["name", "number", "fieldKind", "localName", "jsonName", "scalar", "presence", "packed", "listKind", "mapKind", "mapKey", "longAsString", "delimitedEncoding"];
  return {
    ...Object.fromEntries(keys.map((k) => [k, f[k]])),
    message: f.message?.typeName, enum: f.enum?.typeName, oneof: f.oneof?.name, default: f.getDefaultValue?.(),
  };
}

function messageShape(m: DescMessage): unknown {
  return {
    typeName: m.typeName, fields: m.fields.map(fieldShape), oneofs: m.oneofs.map((o) => [o.name, o.localName, o.fields.map((f) => f.name)]),
    nested: m.nestedMessages.map(messageShape), enums: m.nestedEnums.map((e) => [e.typeName, e.values.map((v) => [v.name, v.number, v.localName])]),
  };
}

function fileShape(f: GenFile): unknown {
  return {
    name: f.name, edition: f.edition, dependencies: f.dependencies.map((d) => d.name),
    messages: f.messages.map(messageShape),
    enums: f.enums.map((e) => [e.typeName, e.sharedPrefix, e.values.map((v) => [v.name, v.number, v.localName])]),
    services: f.services.map((s) => [s.typeName, s.methods.map((m) => [m.name, m.localName, m.methodKind, m.input.typeName, m.output.typeName])]),
  };
}

describe("descriptors embedded as literals", async () => {
  const files = await generatedFiles();

  test("every generated file is covered", () => {
    expect(files.map((f) => f.proto.name)).toContain("rpc.proto");
    expect(files.length).toBeGreaterThanOrEqual(9);
  });

  for (const file of files) {
    test(`${file.proto.name}: the same FileDescriptorProto and descriptors as fileDesc`, () => {
      const built = rebuild(file);
      expect(sameGraph(file, built)).toBeGreaterThan(10);
      sameMessage(file.proto, built.proto, file.proto.name);
      expect(toBinary(FileDescriptorProtoSchema, built.proto)).toEqual(toBinary(FileDescriptorProtoSchema, file.proto));
      expect(fileShape(built)).toEqual(fileShape(file));
    });
  }

  for (const name of modules) {
    test(`${name} as the build rewrites it exports the same descriptors`, async () => {
      const path = resolve(genDir, name);
      const original = (await import(path)) as Record<string, unknown>;
      const fileName = Object.keys(original).find((k) => k.startsWith("file_"))!;
      // Next to the generated modules, so its relative imports resolve to them.
      const rewritten = resolve(genDir, `.embedded-${name}`);
      try {
        writeFileSync(rewritten, embedGenerated(readFileSync(path, "utf8"), original[fileName] as GenFile, path));
        const mod = (await import(rewritten)) as Record<string, unknown>;
        expect(Object.keys(mod)).toEqual(Object.keys(original));
        const file = mod[fileName] as GenFile;
        sameGraph(original[fileName] as GenFile, file);
        for (const [k, v] of Object.entries(original)) {
          const d = v as { kind?: string; typeName?: string; file?: unknown; parent?: { file?: unknown } };
          if (k === fileName) continue;
          if (d === null || typeof d !== "object" || typeof d.kind !== "string") {
            expect(mod[k], k).toEqual(v);
            continue;
          }
          const e = mod[k] as typeof d;
          expect([e.kind, e.typeName], k).toEqual([d.kind, d.typeName]);
          // The export is the descriptor in the embedded graph, not a copy.
          expect((e.file ?? e.parent?.file) === file, `${k} belongs to the embedded file`).toBe(true);
        }
      } finally {
        rmSync(rewritten, { force: true });
      }
    });
  }

  test("a value of a shape the writer does not know stops the build", () => {
    const file = files.find((f) => f.proto.name === "kv.proto")!;
    const odd = { ...file, extra: new Map() } as unknown as GenFile;
    expect(() => embeddedFileSource(odd)).toThrow(/unknown prototype/);
    const fn = { ...file, resolve: () => 1 } as unknown as GenFile;
    expect(() => embeddedFileSource(fn)).toThrow(/unsupported value/);
  });
});
