// The bootstrap layer's own failure: one line, etcd's text where etcd has one (static, SRV and
// the server's bootstrap checks). Discovery's errors are catalogue entries (src/rpctypes).

/** An error whose text is part of etcd's contract. */
export class BootstrapError extends Error {
  override readonly name = "BootstrapError";
}
