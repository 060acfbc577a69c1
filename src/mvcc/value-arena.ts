// Key and value bytes of the live keys, packed into shared 1 MiB slabs outside the GC heap.
//
// Kept as two small typed arrays per key, 100k keys of 8 + 256 bytes cost about 53 MB of GC
// heap (two array cells and their storage beside the object); packed they cost the slab bytes
// plus one small object. The GC heap is what the collector lets grow to about twice its live
// size between collections, so this also halves the garbage a write burst leaves behind.
//
// Slabs are append-only and never rewritten, so an ArenaKey's bytes never change: old ArenaKeys
// held by watch events stay valid, and keep their slab alive until they are dropped. Overwritten
// and deleted keys leave dead bytes; once dead bytes outweigh live ones, the store repacks every
// live key into fresh slabs (amortised O(1) per write) and the old slabs are garbage.
import type { LiveKey } from "./key-index.ts";

const SLAB = 1 << 20;
/** Larger pairs get a buffer of their own, freed by the GC when the key goes. */
const OWN_BUFFER = SLAB >> 2;
/** Below this many dead bytes a repack is not worth its pass over the index. */
const MIN_REPACK = 8 * SLAB;
const EMPTY = new Uint8Array(0);

/** A live key whose bytes sit in an arena slab; key and value are fresh copies on each read. */
export class ArenaKey implements LiveKey {
  constructor(
    readonly k: string,
    private readonly buf: Uint8Array,
    private readonly off: number,
    private readonly klen: number,
    private readonly vlen: number,
    /** True when buf is a shared slab. */
    private readonly shared: boolean,
    readonly createRevision: number,
    readonly modRevision: number,
    readonly version: number,
    readonly lease: bigint,
  ) {}

  get key(): Uint8Array {
    return this.buf.slice(this.off, this.off + this.klen);
  }

  get value(): Uint8Array {
    if (this.vlen === 0) return EMPTY;
    const at = this.off + this.klen;
    return this.buf.slice(at, at + this.vlen);
  }

  /** Bytes held in a shared slab (0 when the pair has a buffer of its own). */
  get slabBytes(): number {
    return this.shared ? this.klen + this.vlen : 0;
  }
}

export class ValueArena {
  private slab = new Uint8Array(SLAB);
  private used = 0;
  /** Slab bytes of keys in the index; dead = slab bytes of keys overwritten or deleted since. */
  private live = 0;
  private dead = 0;

  /** Copies key and value into the arena. */
  pack(k: string, key: Uint8Array, value: Uint8Array, create: number, mod: number, version: number, lease: bigint): ArenaKey {
    const n = key.length + value.length;
    let buf: Uint8Array;
    let off = 0;
    if (n > OWN_BUFFER) {
      buf = new Uint8Array(n);
    } else {
      if (this.used + n > SLAB) {
        this.slab = new Uint8Array(SLAB);
        this.used = 0;
      }
      buf = this.slab;
      off = this.used;
      this.used += n;
      this.live += n;
    }
    buf.set(key, off);
    buf.set(value, off + key.length);
    return new ArenaKey(k, buf, off, key.length, value.length, n <= OWN_BUFFER, create, mod, version, lease);
  }

  /** A key left the index (overwritten or deleted). */
  retire(e: LiveKey): void {
    if (!(e instanceof ArenaKey)) return;
    const n = e.slabBytes;
    this.live -= n;
    this.dead += n;
  }

  get needsRepack(): boolean {
    return this.dead >= MIN_REPACK && this.dead > this.live;
  }

  /** Starts a fresh arena generation; the caller re-packs every live key into it. */
  reset(): void {
    this.slab = new Uint8Array(SLAB);
    this.used = 0;
    this.live = 0;
    this.dead = 0;
  }

  /** For tests and metrics. */
  stats(): { live: number; dead: number } {
    return { live: this.live, dead: this.dead };
  }
}
