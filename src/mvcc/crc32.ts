// IEEE CRC-32 (as Go's hash/crc32.ChecksumIEEE), streaming.
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export class Crc32 {
  private crc = 0xffffffff;
  update(b: Uint8Array): this {
    let c = this.crc;
    for (let i = 0; i < b.length; i++) c = TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
    this.crc = c;
    return this;
  }
  /** Feeds n as 8 bytes big-endian (n a safe non-negative integer). */
  updateU64(n: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(n));
    return this.update(b);
  }
  digest(): number {
    return (this.crc ^ 0xffffffff) >>> 0;
  }
}
