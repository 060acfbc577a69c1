// The bbolt file format (go.etcd.io/bbolt), read and written as streams of pages: the format
// etcd keeps its backend in and sends as a snapshot. Pure apart from the injected file access.
export { BoltError } from "./errors.ts";
export { compare, latin1 } from "./bytes.ts";
export { DEFAULT_PAGE_SIZE, type Meta, PAGE_HEADER_SIZE, PageFlag, decodeMeta, encodeMeta } from "./format.ts";
export { type BoltEntry, BoltReader, type BucketRef, type Page, type RandomAccess } from "./reader.ts";
export { type BoltImage, type BoltWriterOptions, type BucketSource, type KeyValuePair, planBolt, writeBolt } from "./writer.ts";
