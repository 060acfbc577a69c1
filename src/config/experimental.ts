// etcd 3.4's --experimental-* flags: each is accepted with its effect, accepted as always on,
// accepted with a warning that it changes nothing here, or refused. Unit files and config
// files written for etcd keep starting; what they ask for is never silently pretended.
import { ConfigError } from "./errors.ts";

export type ExperimentalStatus =
  /** Does what etcd's flag does. */
  | "effect"
  /** The behaviour it enables is always on here. */
  | "always-on"
  /** Accepted; a non-default value is warned about (nothing here to apply it to). */
  | "no-effect"
  /** A non-default value is refused: the member cannot do what it asks. */
  | "refused";

export interface ExperimentalFlag {
  readonly status: ExperimentalStatus;
  /** Why, in the warning or the refusal. */
  readonly why: string;
}

export const EXPERIMENTAL_FLAGS: Readonly<Record<string, ExperimentalFlag>> = {
  "experimental-initial-corrupt-check": { status: "no-effect", why: "the cross-member hash check at start is not built (WAL records are CRC-checked when read)" },
  "experimental-corrupt-check-time": { status: "no-effect", why: "the periodic cross-member hash check is not built" },
  "experimental-enable-v2v3": { status: "refused", why: "the v2 API is not available in this build" },
  "experimental-backend-bbolt-freelist-type": { status: "no-effect", why: "the backend is not bbolt" },
  "experimental-enable-lease-checkpoint": { status: "always-on", why: "leases keep their remaining TTL across leader changes" },
  "experimental-enable-lease-checkpoint-persist": { status: "always-on", why: "leases keep their remaining TTL across leader changes" },
  "experimental-compaction-batch-limit": { status: "effect", why: "" },
  "experimental-peer-skip-client-san-verification": { status: "no-effect", why: "peer client certificates are not checked against their SAN here" },
  "experimental-watch-progress-notify-interval": { status: "effect", why: "" },
  "experimental-warning-apply-duration": { status: "no-effect", why: "slow applies are not timed per request" },
};

/**
 * Checks the experimental flags a user set (`set`: names given, `isDefault`: whether the value
 * is the flag's default): warnings for those without effect, ConfigError for refused ones.
 */
export function checkExperimental(set: (name: string) => boolean, isDefault: (name: string) => boolean, warnings: string[]): void {
  for (const [name, f] of Object.entries(EXPERIMENTAL_FLAGS)) {
    if (!set(name) || isDefault(name)) continue;
    if (f.status === "refused") throw new ConfigError(`--${name} is not supported: ${f.why}`);
    if (f.status === "no-effect") warnings.push(`--${name} has no effect: ${f.why}`);
  }
}
