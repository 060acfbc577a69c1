// Shared end-to-end test harness: members, etcdctl, the JSON gateway, bounded waits.
export { Ctl, type CtlOptions, type CtlResult, ctlEnv, errorLine, runEtcdctl, spawnEtcdctl } from "./etcdctl.ts";
export { b64, Gateway, type GatewayResponse, type Json, JsonStream, prefixEnd, unb64, unb64Bytes } from "./gateway.ts";
export { Gate } from "./gate.ts";
export { LineProcess, type SpawnOptions } from "./line-process.ts";
export { Member, type MemberOptions } from "./member.ts";
export { freePort, freePorts } from "./ports.ts";
export { mulberry32, seedFromEnv } from "./rng.ts";
export { type SuiteMember, useCluster, useMember } from "./suite.ts";
export { defaultDataDirName, e2eTarget, ETCDCTL_BIN, isEtcd, memberBinary, REPO_ROOT, type Target } from "./target.ts";
export { makeTempDir, removeDir } from "./temp-dir.ts";
export { delay, pollUntil, withTimeout } from "./wait.ts";
export {
  Cluster,
  ClusterMember,
  type ClusterOptions,
  computeClusterId,
  computeMemberId,
  ELECTION_TIMEOUT_MS,
  FAST_RAFT_FLAGS,
  hexId,
  type ListedMember,
  type MemberAddress,
  type MemberStatus,
  type PreparedCluster,
  parseMemberList,
  type StoredValue,
} from "./cluster.ts";
export { type Ack, AckedWriter, measureFirstWrite, missingAcks, PacedWriter, WriteLoad, type WriteLoadOptions, writeKeys } from "./cluster-load.ts";
export { NetnsLab, netnsAvailable } from "./cluster-netns.ts";
export { conclaveRestore, ETCD_SERVER_BIN, etcdctlRestore, type History, observe, restoreForTarget, writeHistory } from "./snapshot.ts";
export { synthKey, synthLease, synthValue, type SynthSpec, writeSynthSnapshot } from "./synth-snapshot.ts";
export {
  type HttpAnswer,
  type HttpOptions,
  normalizer,
  runV2ctl,
  spawnV2ctl,
  V2_FLAGS,
  v2CtlEnv,
  v2Http,
  v2Ids,
  waitV2Ready,
} from "./v2.ts";
export { checkHistogram, parseExposition, type PromFamily, type Sample, sampleValue } from "./prom-text.ts";
