// Durable storage: the Raft log (WAL + in-memory tail).
export { openRaftLog, RaftLog, ErrCompacted, ErrUnavailable, ErrSnapOutOfDate, type RaftLogOptions } from "./raft-log.ts";
export { openWal, Wal, DEFAULT_SEGMENT_BYTES, type WalOptions, type WalContents } from "./wal.ts";
export { WalCorruptError } from "./wal-segment.ts";
export { nodeWalFs, type WalFs } from "./wal-fs.ts";
export { crc32c } from "./wal-crc32c.ts";
export { StateReader, type StateHeader, type KvCursor, type KvRow, type KvSizeRow, type LeaseRow, type AlarmRow, type MemberStateRow } from "./state-reader.ts";
export { StateWriter, type StateRow, type StateMetaRow, type StateMemberRow } from "./state-writer.ts";
export { AUTH_ROWS_SQL, AuthEnabledFlag, type AuthRecord, type AuthTableRows, authTableRows } from "./auth-rows.ts";
export { defragmentOffline } from "./offline-defrag.ts";
export type { Checkpointer, CheckpointReport, OpenCheckpointer } from "./checkpointer.ts";
