// What the member does when its data dir misbehaves: which disk failures it waits out and
// which stop it, and the watch that notices a disk filling up or a data dir that went away.
//
// Decided as follows (etcd stops on every one of them: a failed WAL write or backend commit
// panics; here only what cannot be trusted any more stops the member):
//
//   out of space (ENOSPC, EDQUOT, SQLITE_FULL)   waited out. Nothing is lost: the WAL keeps the
//       batch it could not write and writes it again at the same place, and a state-file write
//       that fails rolls its group back, so the store is reloaded from the file and the log
//       replays what the file missed. Meanwhile the member refuses proposals with etcd's
//       "etcdserver: mvcc: database space exceeded", and goes on by itself once space returns.
//   below the reserve (free < reserveBytes)     writes that add data (Put, Txn with a put,
//       LeaseGrant: etcd's quota rule) are refused with the same error before the disk is full,
//       so what is already accepted always has room; deletes and compactions still go through.
//   read-only (EROFS, SQLITE_READONLY), not permitted (EACCES, EPERM), removed (ENOENT,
//   ESTALE, or the directory replaced under the member), I/O errors (EIO, SQLITE_IOERR), a
//   failed fsync of any kind: fatal. The member says what happened and stops; after a failed
//   fsync the kernel may have dropped the pages it could not write, so a retried fsync could
//   succeed without the data (the "fsyncgate" lesson), and a log written to an unlinked or
//   read-only directory would be lost at the next start.

/** The kinds of disk failure, by what the member does about them. */
export type DiskFault = "full" | "readonly" | "denied" | "removed" | "io";

function codeOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; typeof e === "object" && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === "string") return c;
  }
  return undefined;
}

/** The kind of an error from the WAL, SQLite or the file system; undefined if not a disk error. */
export function diskFault(err: unknown): DiskFault | undefined {
  const code = codeOf(err);
  if (code === undefined) return undefined;
  if (code === "ENOSPC" || code === "EDQUOT" || code === "SQLITE_FULL") return "full";
  if (code === "EROFS" || code.startsWith("SQLITE_READONLY")) return "readonly";
  if (code === "EACCES" || code === "EPERM" || code === "SQLITE_PERM" || code === "SQLITE_CANTOPEN") return "denied";
  if (code === "ENOENT" || code === "ESTALE") return "removed";
  if (code === "EIO" || code.startsWith("SQLITE_IOERR")) return "io";
  return undefined;
}

/** The line the member logs when a disk fault stops it. */
export function faultMessage(fault: DiskFault | undefined, dataDir: string, err: unknown): string {
  const why = err instanceof Error ? err.message : String(err);
  switch (fault) {
    case "readonly":
      return `data dir ${dataDir} is read-only (${why}); stopping`;
    case "denied":
      return `data dir ${dataDir} is not writable (${why}); stopping`;
    case "removed":
      return `data dir ${dataDir} was removed while the member was running (${why}); stopping`;
    case "io":
      return `I/O error in data dir ${dataDir} (${why}); stopping`;
    default:
      return `failed to write to data dir ${dataDir} (${why}); stopping`;
  }
}

/** What the guard looks at: free space and the identity (device, inode) of the member dir. */
export interface DiskProbe {
  /** Bytes available to the member on the data dir's file system. */
  freeBytes(): Promise<number>;
  /** "dev:ino" of the member dir; rejects if it is gone. */
  identity(): Promise<string>;
}

export interface DiskGuardOptions {
  readonly probe: DiskProbe;
  /** Below this much free space, writes that add data are refused. */
  readonly reserveBytes: number;
  readonly everyMs: number;
  readonly timers: { setInterval(fn: () => void, ms: number): unknown; clearInterval(h: unknown): void };
  /** The data dir vanished or became unusable: the member must stop. */
  readonly onFatal: (err: Error) => void;
  readonly logger: { warn(m: string, f?: Record<string, unknown>): void; info(m: string, f?: Record<string, unknown>): void };
}

export class DiskGuard {
  private lowSpace = false;
  private stalledWrites = false;
  private timer: unknown;
  private identityAtStart: string | undefined;
  private polling = false;

  constructor(private readonly o: DiskGuardOptions) {}

  /** Free space is below the reserve: refuse writes that add data. */
  get low(): boolean {
    return this.lowSpace;
  }

  /** A write is waiting for space right now: refuse every proposal. */
  get stalled(): boolean {
    return this.stalledWrites;
  }

  /** The raft loop reports that its writes wait for space (true) or went through (false). */
  setStalled(on: boolean): void {
    if (on === this.stalledWrites) return;
    this.stalledWrites = on;
    if (on) this.o.logger.warn("out of disk space: writes wait until space returns; proposals are refused meanwhile");
    else this.o.logger.info("disk space is back: writes go on");
  }

  async start(): Promise<void> {
    this.identityAtStart = await this.o.probe.identity();
    await this.poll();
    this.timer = this.o.timers.setInterval(() => void this.poll(), this.o.everyMs);
    (this.timer as { unref?: () => void } | undefined)?.unref?.();
  }

  stop(): void {
    if (this.timer !== undefined) this.o.timers.clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One look at the disk (the timer calls it; tests may call it). */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      let id: string;
      try {
        id = await this.o.probe.identity();
      } catch (err) {
        this.fatal(Object.assign(new Error(`member dir is gone: ${(err as Error).message}`), { code: "ENOENT" }));
        return;
      }
      if (this.identityAtStart !== undefined && id !== this.identityAtStart) {
        this.fatal(Object.assign(new Error("member dir was replaced by another directory"), { code: "ENOENT" }));
        return;
      }
      const free = await this.o.probe.freeBytes();
      // Hysteresis: writes resume once a little more than the reserve is free again.
      const low = this.lowSpace ? free < this.o.reserveBytes * 1.25 : free < this.o.reserveBytes;
      if (low !== this.lowSpace) {
        this.lowSpace = low;
        if (low) this.o.logger.warn("disk space is low: writes that add data are refused", { "free-bytes": free, "reserve-bytes": this.o.reserveBytes });
        else this.o.logger.info("disk space is back above the reserve", { "free-bytes": free });
      }
    } catch {
      // A probe that fails for another reason says nothing about the disk: look again later.
    } finally {
      this.polling = false;
    }
  }

  private fatal(err: Error): void {
    this.stop();
    this.o.onFatal(err);
  }
}
