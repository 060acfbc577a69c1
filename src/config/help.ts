// --help and --version texts. The flag list is generated from the flag table in etcd's
// grouped layout so help can never disagree with what the parser accepts.

import { FLAGS, type HelpGroup } from "./flags.ts";

export { API_VERSION, VERSION, versionText } from "./version.ts";

const GROUPS: readonly HelpGroup[] = [
  "Member",
  "Clustering",
  "Security",
  "Auth",
  "Profiling and Monitoring",
  "Logging",
  "v2 Proxy (to be deprecated in v4)",
  "Experimental feature",
  "Unsafe feature",
];

const HEADER = `Usage:

  conclave [flags]
    Start a conclave member (etcd-compatible server).

  conclave --version
    Show the version of conclave.

  conclave -h | --help
    Show the help information about conclave.

  conclave --config-file
    Path to the server configuration file. Note that if a configuration file is provided, other command line flags and environment variables will be ignored.

  conclave discovery
    Run the discovery token service.

  conclave ctl
    Run the command-line client (etcdctl-compatible).

  conclave pki
    Create a CA and server, peer and client certificates.

Every flag may also be given as an environment variable: --foo-bar as ETCD_FOO_BAR or CONCLAVE_FOO_BAR.
`;

const FOOTER = `
CAUTION:

  This is for testing and debugging purposes only: --force-new-cluster and --unsafe-no-fsync
  can lose data or split a cluster. Use them only when you know what they do.
`;

/** The full --help text. */
export function helpText(): string {
  const parts = [HEADER];
  for (const group of GROUPS) {
    parts.push(`\n${group}:\n`);
    for (const d of FLAGS) {
      if (d.group !== group) continue;
      parts.push(`  --${d.name} '${d.shownDefault ?? d.def}'\n`);
      for (const line of (d.usage ?? "").split("\n")) parts.push(`    ${line}\n`);
    }
  }
  parts.push(FOOTER);
  return parts.join("");
}
