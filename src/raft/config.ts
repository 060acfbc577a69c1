// RawNode configuration. Every effect is injected: the core reads no clock and no randomness.

import type { Logger } from "./logger.ts";
import type { Storage } from "./storage.ts";

export interface Config {
  /** This node's ID; never 0. */
  readonly id: bigint;
  /** Ticks without hearing from a leader before campaigning; randomized in [e, 2e). */
  readonly electionTick: number;
  /** Ticks between leader heartbeats; must be < electionTick. */
  readonly heartbeatTick: number;
  readonly storage: Storage;
  /** Last index applied by the application before a restart; entries up to it are not re-emitted. */
  readonly applied?: number;
  /** Max data bytes per MsgApp (default 1 MiB). */
  readonly maxSizePerMsg?: number;
  /** Max data bytes of committed entries per Ready (default unlimited). */
  readonly maxCommittedSizePerReady?: number;
  /** Max MsgApp in flight per follower in StateReplicate (default 256). */
  readonly maxInflightMsgs?: number;
  /** Leader steps down without a quorum of recent contact per election timeout (default true). */
  readonly checkQuorum?: boolean;
  /** Run a pre-election before raising the term (thesis §9.6; default true). */
  readonly preVote?: boolean;
  /** Followers drop proposals instead of forwarding them to the leader (default false). */
  readonly disableProposalForwarding?: boolean;
  /** Seeded randomness in [0, 1) for the election timeout. */
  readonly rng: () => number;
  readonly logger?: Logger;
}

export const defaults = {
  maxSizePerMsg: 1024 * 1024,
  maxInflightMsgs: 256,
} as const;
