// What the bbolt reader and writer throw. Reader errors describe damaged or foreign files in
// one line ("page 7: key order violated"); the texts of meta failures are bbolt's own
// ("invalid database", "version mismatch", "checksum error"), which etcdctl prints.

export class BoltError extends Error {
  override readonly name = "BoltError";
}
