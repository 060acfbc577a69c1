// A generated file's descriptor rebuilt from an object literal instead of its serialized
// FileDescriptorProto. protoc-gen-es embeds each .proto file as base64 bytes (fileDesc), and
// decoding them needs the reflection schema of descriptor.proto itself, built when it is first
// imported: together 8-10 ms of every start of a cold process (docs/benchmarks.md § ctl start).
// The build (scripts/embed-descriptors.ts) replaces each fileDesc call of src/gen/*_pb.ts with
// embeddedFile: the very message objects fileDesc would have produced, written out as a literal.
import { createFileRegistry } from "@bufbuild/protobuf";
import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import type { GenFile } from "@bufbuild/protobuf/codegenv2";

/** Makes one message: the own fields given, the unset ones read from the type's defaults. */
export type MakeMessage = (type: number, own: Record<string, unknown>) => Record<string, unknown>;

/**
 * Hydrates a file descriptor as fileDesc does. `defaults[t]` holds the field defaults of message
 * type t (what protobuf-es keeps on a decoded message's prototype); `root` builds the
 * FileDescriptorProto from its messages; `imports` are the files it depends on.
 */
export function embeddedFile(defaults: Array<Record<string, unknown>>, root: (m: MakeMessage) => unknown, imports?: GenFile[]): GenFile {
  const protos = defaults.map((d) => ({ ...d }));
  const proto = root((t, own) => Object.assign(Object.create(protos[t]!) as Record<string, unknown>, own)) as FileDescriptorProto;
  return createFileRegistry(proto, (name) => imports?.find((f) => f.proto.name === name)).getFile(proto.name)!;
}
