// Keeps the JavaScript heap close to its live size under bursts of requests.
//
// JavaScriptCore sizes its heap for the machine's RAM: on a machine with gigabytes free it
// lets the heap double between full collections, so right after a burst of requests the
// process holds far more garbage than live data (measured: live 162 MB, RSS 280-390 MB
// after 100k puts). The engine's own knob (forceRAMSize) can only be set from the
// environment before start, which a single executable cannot do for itself. This governor
// does the equivalent from inside: it watches the heap size and asks for a full collection
// when it has grown by `growth` over the size the last collection left (8 % every 10 ms by
// default in main.ts).
//
// The young generation has the same problem at light load: the engine lets it fill to its
// minimum cycle (~18 MB here) before an eden collection, so one client's ~1000 puts a second
// moved the resident size up and down by 10-17 MB every second, more than an attack on the
// client port costs (docs/benchmarks.md, "Attacks, memory"). So when the engine has not
// collected for `eden.quietMs` and its capacity has grown by `eden.afterBytes` meanwhile, the
// governor asks for an eden collection (a fraction of a millisecond). Under load the engine
// collects more often than that by itself and the rule never fires.
//
// Bun-only (bun:jsc); a no-op elsewhere.
export interface HeapGovernor {
  stop(): void;
}

/** The engine hooks the governor uses (bun:jsc), injectable for tests. */
export interface HeapHooks {
  heapSize(): number;
  fullGC(): unknown;
  /** The heap's capacity: it grows as the young generation fills and falls at each collection. */
  capacity?(): number;
  edenGC?(): unknown;
}

export interface HeapGovernorOptions {
  /** Collect when the heap exceeds this factor times the size the last collection left. */
  growth: number;
  everyMs: number;
  /** Below this size the heap is left alone. */
  minBytes: number;
  /** An eden collection after this much growth of the capacity with no collection for quietMs (see the top). */
  eden?: { afterBytes: number; quietMs: number };
  hooks?: HeapHooks;
}

export async function startHeapGovernor(opts: HeapGovernorOptions): Promise<HeapGovernor> {
  let hooks = opts.hooks;
  if (!hooks) {
    if (!(globalThis as { Bun?: unknown }).Bun) return { stop() {} };
    const jsc = (await import("bun:jsc")) as unknown as { fullGC(): unknown; edenGC(): unknown };
    // bun:jsc's heapSize() walks every block of the heap: 70 µs at 30 MB, 360 µs at 150 MB,
    // every poll, on the event loop. heapUsed tracks the same figure (bytes allocated since
    // and kept at the last collection) for ~10 µs; heapTotal, from the same call, is the
    // capacity (it grows with the young generation, which heapUsed does not show).
    let total = 0;
    hooks = {
      heapSize: () => {
        const m = process.memoryUsage();
        total = m.heapTotal;
        return m.heapUsed;
      },
      capacity: () => total,
      fullGC: () => jsc.fullGC(),
      edenGC: () => jsc.edenGC(),
    };
  }
  const h = hooks;
  const eden = opts.eden !== undefined && h.capacity !== undefined && h.edenGC !== undefined ? opts.eden : undefined;
  const quietPolls = eden === undefined ? 0 : Math.ceil(eden.quietMs / opts.everyMs);
  let base = Math.max(h.heapSize(), opts.minBytes);
  let cap = h.capacity?.() ?? 0;
  /** The capacity the last collection left, and polls since it. */
  let grownFrom = cap;
  let quiet = 0;
  const timer = setInterval(() => {
    const size = h.heapSize();
    if (size > base * opts.growth) {
      h.fullGC();
      base = Math.max(h.heapSize(), opts.minBytes);
      cap = grownFrom = h.capacity?.() ?? 0;
      quiet = 0;
      return;
    }
    if (size < base) base = Math.max(size, opts.minBytes);
    if (eden === undefined) return;
    const c = h.capacity!();
    if (c < cap) {
      // The engine collected by itself.
      grownFrom = c;
      quiet = 0;
    } else quiet++;
    cap = c;
    if (quiet >= quietPolls && c - grownFrom >= eden.afterBytes) {
      h.edenGC!();
      h.heapSize(); // reads the capacity afresh
      cap = grownFrom = h.capacity!();
      quiet = 0;
    }
  }, opts.everyMs);
  timer.unref?.();
  return { stop: () => clearInterval(timer) };
}

/** Bytes of a streamed image (a snapshot read, sent or received) between two collections. */
export const COLLECT_EVERY_BYTES = 16 << 20;

/**
 * Counts the bytes of an image going through and calls `collect` every COLLECT_EVERY_BYTES of
 * them (a no-op without one): each chunk is a buffer outside the JS heap that dies at once, and
 * the collector, which sizes itself by the heap, would otherwise let an image's worth pile up.
 */
export function collectEvery(collect: (() => void) | undefined): (bytes: number) => void {
  if (collect === undefined) return () => {};
  let since = 0;
  return (bytes) => {
    since += bytes;
    if (since < COLLECT_EVERY_BYTES) return;
    since = 0;
    collect();
  };
}

/**
 * A full collection on demand (Bun: bun:jsc fullGC), for work that allocates a lot of
 * short-lived buffers outside the JS heap, which the governor's heap-size signal does not see
 * (streaming a snapshot). undefined on other runtimes.
 */
export async function fullCollector(): Promise<(() => void) | undefined> {
  if (!(globalThis as { Bun?: unknown }).Bun) return undefined;
  const jsc = (await import("bun:jsc")) as unknown as HeapHooks;
  return () => void jsc.fullGC();
}
