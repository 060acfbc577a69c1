// A generated file's descriptors rebuilt from an object literal instead of its serialized
// FileDescriptorProto. protoc-gen-es embeds each .proto file as base64 bytes (fileDesc): decoding
// them needs the reflection schema of descriptor.proto itself, built when first imported, and
// protobuf-es's registry then derives every message, field, enum and service descriptor — in a
// cold process, 10-17 ms of a `conclave ctl` start (docs/benchmarks.md § ctl start). The build
// (scripts/embed-descriptors.ts) replaces each fileDesc call of src/gen/*_pb.ts with
// embeddedFile: the very objects fileDesc would have produced, written out as a literal.
import type { GenFile } from "@bufbuild/protobuf/codegenv2";

/**
 * The file's descriptor as fileDesc returns it. `defaults[t]` holds the field defaults of
 * descriptor message type t, the prototype of its messages (as protobuf-es keeps them); `build`
 * makes the graph, reaching objects of the imported files through `imports`.
 */
export function embeddedFile(defaults: Array<Record<string, unknown>>, build: (protos: Array<Record<string, unknown>>, imports: GenFile[]) => unknown, imports: GenFile[]): GenFile {
  return build(defaults, imports) as GenFile;
}
