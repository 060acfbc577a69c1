// Public surface of the pure Raft core.
export { AssertionError, assert, hexId } from "./assert.ts";
export { CodecError, decodeConfChange, decodeMessage, encodeConfChange, encodeMessage } from "./codec.ts";
export {
  ConfChangeType, confChangeTypeName, describeConfState, nextConfState,
  type ConfChange, type ConfChangeOutcome,
} from "./conf-change.ts";
export { defaults, type Config } from "./config.ts";
export { discardLogger, type Logger } from "./logger.ts";
export { MemoryStorage } from "./memory-storage.ts";
export { isLocalMsg, isResponseMsg, MessageType, messageTypeName, msg, type Message } from "./message.ts";
export { ProgressState } from "./progress.ts";
export { None, ProposalDroppedError, Role, type SoftState } from "./raft.ts";
export {
  RawNode, StepLocalMsgError, StepPeerNotFoundError,
  type PeerProgress, type Ready, type Status,
} from "./raw-node.ts";
export type { ReadState } from "./read-only.ts";
export {
  CompactedError, SnapOutOfDateError, SnapshotTemporarilyUnavailableError, StorageError, UnavailableError,
  emptyConfState, type InitialState, type Storage,
} from "./storage.ts";
export * from "./types.ts";
