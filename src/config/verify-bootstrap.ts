// The pure part of etcd's ServerConfig.VerifyBootstrap, one home for every caller: the member
// (src/bootstrap's verifyInitialCluster, whatever the source of the initial cluster) and
// `snapshot restore` (src/snapshot). Comparing --initial-advertise-peer-urls with this member's
// entry needs DNS resolution in etcd (localhost vs 127.0.0.1), so that part stays in
// src/bootstrap.
import { ConfigError } from "./errors.ts";

/** An initial cluster: member name → its peer URLs (Go string form). */
export type UrlsMap = ReadonlyMap<string, readonly string[]>;

/** types.URLsMap.String(): every `name=url` pair, sorted, joined by ",". */
export function formatUrlsMap(members: UrlsMap): string {
  const pairs: string[] = [];
  for (const [name, urls] of members) for (const u of urls) pairs.push(`${name}=${u}`);
  return pairs.sort().join(",");
}

/** etcd's checkDuplicateURL: one peer URL listed under two names (or twice). */
export function hasDuplicateUrl(members: UrlsMap): boolean {
  const seen = new Set<string>();
  for (const urls of members.values()) {
    for (const u of urls) {
      if (seen.has(u)) return true;
      seen.add(u);
    }
  }
  return false;
}

/**
 * Throws etcd's errors for an initial cluster that cannot bootstrap member `name`: no entry for
 * it, or a URL listed twice (texts observed on etcd 3.4.23, server and `etcdctl snapshot restore`).
 */
export function verifyBootstrap(name: string, members: UrlsMap): void {
  if (!members.has(name)) throw new ConfigError(`couldn't find local name ${JSON.stringify(name)} in the initial cluster configuration`);
  if (hasDuplicateUrl(members)) throw new ConfigError(`initial cluster ${formatUrlsMap(members)} has duplicate url`);
}
