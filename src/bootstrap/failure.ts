// How a member that could not bootstrap through discovery says so: etcdmain's lines for each
// DiscoveryError (3.4 wording), ending in the one error the process exits with.
import type { ServerConfig } from "../config/index.ts";
import type { DiscoveryError } from "../rpctypes/index.ts";
import type { BootstrapLogger } from "./logger.ts";

/** Logs etcd's advice for a failed discovery join and returns the error to exit with. */
export function discoveryFailure(e: DiscoveryError, c: ServerConfig, logger: BootstrapLogger): Error {
  const token = c.discovery !== "" ? c.discovery : c.v3Discovery.token;
  if (e.kind === "full" && c.discovery !== "" && c.discoveryFallback === "proxy") {
    logger.info("discovery cluster full, falling back to proxy");
    return new Error(
      "discovery cluster is full and --discovery-fallback=proxy asks for a v2 proxy, which this member does not provide; " +
        "start it with --discovery-fallback=exit, or add it to the running cluster with 'member add' and --initial-cluster-state=existing",
    );
  }
  if (e.kind === "duplicate-id") {
    logger.error(`But this member could not find valid cluster configuration in the given data dir (${c.dataDir}).`);
    logger.info("Please check the given data dir path if the previous bootstrap succeeded");
    logger.info("or use a new discovery token if the previous bootstrap failed.");
    return new Error(`member ${JSON.stringify(c.name)} has previously registered with discovery service token (${token}).`);
  }
  if (e.kind === "duplicate-name") {
    logger.error("member with duplicated name has already been registered");
    logger.info("cURL the discovery token URL for details");
    logger.info("do not reuse discovery token; generate a new one to bootstrap a cluster");
    return new Error(`failed to join discovery cluster (${e.message})`);
  }
  logger.info(`discovery token ${token} was used, but failed to bootstrap the cluster.`);
  logger.info("please generate a new discovery token and try to bootstrap again.");
  return new Error(`failed to join discovery cluster (${e.message})`);
}
