// Which server the end-to-end suite runs against. E2E_TARGET=etcd uses Debian's etcd so that
// every test can be validated against the behaviour we copy; the default is our binary.
import { resolve } from "node:path";

export type Target = "etcd" | "conclave";

export const REPO_ROOT = resolve(import.meta.dir, "..", "..");

export function e2eTarget(): Target {
  const t = process.env.E2E_TARGET ?? "conclave";
  if (t !== "etcd" && t !== "conclave") throw new Error(`E2E_TARGET must be etcd or conclave, not ${t}`);
  return t;
}

export const isEtcd = (): boolean => e2eTarget() === "etcd";

/** Path of the member executable for the current target. */
export function memberBinary(): string {
  if (isEtcd()) return process.env.ETCD_BIN ?? "/usr/bin/etcd";
  return process.env.CONCLAVE_BIN ?? resolve(REPO_ROOT, "dist", "conclave");
}

/** Default data dir name the member picks for `--name default` when none is given. */
export function defaultDataDirName(): string {
  return isEtcd() ? "default.etcd" : "default.conclave";
}

export const ETCDCTL_BIN = process.env.ETCDCTL_BIN ?? "/usr/bin/etcdctl";
