// What a member just added with MemberAdd needs to start: etcdctl's ETCD_* lines and the
// complete command line. Pure (no I/O), shared by `conclave ctl member add` and the dashboard.

export interface AddedMember {
  /** The new member's name (MemberAdd does not know it: the caller chose it). */
  readonly name: string;
  /** The new member's peer URLs, as given to MemberAdd. */
  readonly peerURLs: readonly string[];
  /** Every member after the add: the new one (no name yet) and the existing ones. */
  readonly members: readonly { readonly id: string; readonly name: string; readonly peerURLs: readonly string[] }[];
  /** The new member's ID, as it appears in `members`. */
  readonly id: string;
}

/** Go's %q for the ETCD_* lines (ASCII URLs and names). */
const q = (s: string) => JSON.stringify(s);

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** --initial-cluster for the new member: name=url for every peer URL of every member. */
export function initialCluster(m: AddedMember): string {
  const conf: string[] = [];
  for (const x of m.members) for (const u of x.peerURLs) conf.push(`${x.id === m.id ? m.name : x.name}=${u}`);
  return conf.join(",");
}

/** etcdctl member add's lines: ETCD_NAME, ETCD_INITIAL_CLUSTER, ..._ADVERTISE_PEER_URLS, ..._STATE. */
export function envLines(m: AddedMember): string[] {
  return [
    `ETCD_NAME=${q(m.name)}`,
    `ETCD_INITIAL_CLUSTER=${q(initialCluster(m))}`,
    `ETCD_INITIAL_ADVERTISE_PEER_URLS=${q(m.peerURLs.join(","))}`,
    `ETCD_INITIAL_CLUSTER_STATE="existing"`,
  ];
}

/**
 * The start command as arguments (flags etcd and conclave both take). Client URLs default to
 * port 2379 on the first peer URL's host; `dataDir` is added when given.
 */
export function startArgs(m: AddedMember, opts: { binary?: string; clientUrl?: string; dataDir?: string } = {}): string[] {
  const peers = m.peerURLs.join(",");
  const host = new URL(m.peerURLs[0]!).hostname;
  // URL.hostname keeps an IPv6 address in brackets.
  const client = opts.clientUrl ?? `http://${host}:2379`;
  const args = [
    opts.binary ?? "conclave",
    "--name", m.name,
    "--initial-advertise-peer-urls", peers,
    "--listen-peer-urls", peers,
    "--listen-client-urls", client,
    "--advertise-client-urls", client,
    "--initial-cluster", initialCluster(m),
    "--initial-cluster-state", "existing",
  ];
  if (opts.dataDir !== undefined) args.push("--data-dir", opts.dataDir);
  return args;
}

export function startCommand(m: AddedMember, opts: { binary?: string; clientUrl?: string; dataDir?: string } = {}): string {
  return startArgs(m, opts).map(shellQuote).join(" ");
}
