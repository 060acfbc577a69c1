export { toKey, fromKey, keyRange, inRange, rangesOverlap, isEmptyRange, bytesEqual, compareBytes, type KeyRange } from "./bytes.ts";
export { KeyIndex, type LiveKey } from "./key-index.ts";
export { ArenaKey, ValueArena } from "./value-arena.ts";
export { selectRange, toKeyValue, type KeyState, type RangeOutcome } from "./range.ts";
export { MvccStore, WriteTxn, RevisionError, type Change, type StoreMeta } from "./store.ts";
export { Crc32 } from "./crc32.ts";
