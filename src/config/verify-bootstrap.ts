// The pure part of etcd's ServerConfig.VerifyBootstrap, for a member that starts without
// data and bootstraps from --initial-cluster. Comparing --initial-advertise-peer-urls with
// this member's --initial-cluster entry needs DNS resolution in etcd (localhost vs
// 127.0.0.1), so it belongs to the bootstrap layer, not here.

import { ConfigError } from "./errors.ts";
import type { ServerConfig } from "./server-config.ts";
import { urlString } from "./urls.ts";

/** types.URLsMap.String(): `name=url` pairs sorted by name, URLs sorted within a name. */
function urlsMapString(config: Pick<ServerConfig, "initialCluster">): string {
  return config.initialCluster
    .map((e) => `${e.name}=${urlString(e.url)}`)
    .sort()
    .join(",");
}

/**
 * Throws etcd's errors for an initial cluster that cannot bootstrap this member: no entry
 * for --name, a URL listed twice, or neither an initial cluster nor a discovery URL.
 */
export function verifyBootstrap(config: Pick<ServerConfig, "name" | "initialCluster">): void {
  if (!config.initialCluster.some((e) => e.name === config.name)) {
    throw new ConfigError(`couldn't find local name "${config.name}" in the initial cluster configuration`);
  }
  const seen = new Set<string>();
  for (const e of config.initialCluster) {
    const u = urlString(e.url);
    if (seen.has(u)) throw new ConfigError(`initial cluster ${urlsMapString(config)} has duplicate url`);
    seen.add(u);
  }
}
