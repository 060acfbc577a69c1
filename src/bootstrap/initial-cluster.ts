// The one value every way of bootstrapping ends in: the initial members (name → peer URLs)
// and the cluster token their IDs are derived from. Static flags, v2 and v3 discovery and
// DNS SRV each produce it; the member then takes one path from it (src/member.ts).
import { parseInitialCluster, ValueError } from "../config/index.ts";
import { BootstrapError } from "./errors.ts";

export type BootstrapSource = "static" | "discovery" | "v3-discovery" | "srv";

export interface InitialCluster {
  /** Member name → its peer URLs (Go string form, sorted), in order of first appearance. */
  readonly members: ReadonlyMap<string, readonly string[]>;
  /**
   * The cluster token member IDs are hashed with: --initial-cluster-token, or with discovery
   * the full discovery URL (v2) or the discovery token (v3), as etcd does.
   */
  readonly token: string;
  readonly source: BootstrapSource;
}

/** types.NewURLsMap of `name=url,...`; etcd's URL errors. */
export function parseUrlsMap(s: string): Map<string, string[]> {
  try {
    return new Map(parseInitialCluster(s).map((e) => [e.name, e.urls.map((u) => u.text)]));
  } catch (e) {
    if (e instanceof ValueError) throw new BootstrapError(e.message);
    throw e;
  }
}

// URLsMap.String() and etcd's checkDuplicateURL live with the bootstrap checks in src/config.
export { formatUrlsMap, hasDuplicateUrl } from "../config/index.ts";
