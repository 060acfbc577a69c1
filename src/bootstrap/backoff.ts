// The retry schedule both discovery protocols share (etcd's logAndBackoffForRetry):
// 2^n seconds after the n-th failure, n capped at 8 (256 s), for up to 2^32-1 attempts.
import { DiscoveryError, DiscoveryErrors } from "../rpctypes/index.ts";

const MAX_RETRIES = 0xffffffff;
const MAX_EXPONENTIAL_RETRIES = 8;

/** Seconds to wait before attempt `retries` (1-based); throws etcd's error past the limit. */
export function backoffSeconds(retries: number): number {
  if (retries > MAX_RETRIES) throw new DiscoveryError(DiscoveryErrors.tooManyRetries);
  return 2 ** Math.min(retries, MAX_EXPONENTIAL_RETRIES);
}
