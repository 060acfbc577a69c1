// Durable storage: the Raft log (WAL + in-memory tail).
export { openRaftLog, RaftLog, ErrCompacted, ErrUnavailable, ErrSnapOutOfDate, type RaftLogOptions } from "./raft-log.ts";
export { openWal, Wal, DEFAULT_SEGMENT_BYTES, type WalOptions, type WalContents } from "./wal.ts";
export { WalCorruptError } from "./wal-segment.ts";
export { nodeWalFs, type WalFs } from "./wal-fs.ts";
