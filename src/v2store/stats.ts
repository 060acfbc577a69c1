// Operation counters of the store (etcd's v2store Stats), as /v2/stats/store reports them.
// Counted on every member where an operation runs: replicated writes on all members, local
// reads only where they are served. Kept in memory (they start from zero at every start).

export class StoreStats {
  getsSuccess = 0;
  getsFail = 0;
  setsSuccess = 0;
  setsFail = 0;
  deleteSuccess = 0;
  deleteFail = 0;
  updateSuccess = 0;
  updateFail = 0;
  createSuccess = 0;
  createFail = 0;
  compareAndSwapSuccess = 0;
  compareAndSwapFail = 0;
  compareAndDeleteSuccess = 0;
  compareAndDeleteFail = 0;
  expireCount = 0;

  /** The JSON of /v2/stats/store (etcd's field order). */
  json(watchers: number): string {
    return JSON.stringify({
      getsSuccess: this.getsSuccess,
      getsFail: this.getsFail,
      setsSuccess: this.setsSuccess,
      setsFail: this.setsFail,
      deleteSuccess: this.deleteSuccess,
      deleteFail: this.deleteFail,
      updateSuccess: this.updateSuccess,
      updateFail: this.updateFail,
      createSuccess: this.createSuccess,
      createFail: this.createFail,
      compareAndSwapSuccess: this.compareAndSwapSuccess,
      compareAndSwapFail: this.compareAndSwapFail,
      compareAndDeleteSuccess: this.compareAndDeleteSuccess,
      compareAndDeleteFail: this.compareAndDeleteFail,
      expireCount: this.expireCount,
      watchers,
    });
  }
}

/** The counter pair an operation updates. */
export type StatOp = "gets" | "sets" | "delete" | "update" | "create" | "compareAndSwap" | "compareAndDelete";

export function count(s: StoreStats, op: StatOp, ok: boolean): void {
  switch (op) {
    case "gets":
      if (ok) s.getsSuccess++;
      else s.getsFail++;
      return;
    case "sets":
      if (ok) s.setsSuccess++;
      else s.setsFail++;
      return;
    case "delete":
      if (ok) s.deleteSuccess++;
      else s.deleteFail++;
      return;
    case "update":
      if (ok) s.updateSuccess++;
      else s.updateFail++;
      return;
    case "create":
      if (ok) s.createSuccess++;
      else s.createFail++;
      return;
    case "compareAndSwap":
      if (ok) s.compareAndSwapSuccess++;
      else s.compareAndSwapFail++;
      return;
    case "compareAndDelete":
      if (ok) s.compareAndDeleteSuccess++;
      else s.compareAndDeleteFail++;
      return;
  }
}
