// etcd's request/lease ID generator (pkg/idutil): the top 16 bits are the low 16 bits of the
// member ID, the next 40 bits the unix time in ms at start, the low 8 bits (carrying into
// the time bits) a counter. IDs from different members never collide; a restart a
// millisecond later never repeats an earlier ID.
const SUFFIX_BITS = 48n;
const MASK_40 = (1n << 40n) - 1n;
const MASK_48 = (1n << 48n) - 1n;

export class IdGenerator {
  private readonly prefix: bigint;
  private suffix: bigint;

  constructor(memberId: bigint, nowMs: number) {
    this.prefix = (memberId & 0xffffn) << SUFFIX_BITS;
    this.suffix = (BigInt(nowMs) & MASK_40) << 8n;
  }

  next(): bigint {
    this.suffix = (this.suffix + 1n) & MASK_48;
    return this.prefix | this.suffix;
  }

  /** Lease IDs are int64 and must be positive: etcd masks the sign bit off. */
  nextLeaseId(): bigint {
    return this.next() & ((1n << 63n) - 1n);
  }
}
