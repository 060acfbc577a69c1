// What an attack test measures about the member while an attacker process works on it: a
// normal client's latency (sequential gRPC Puts on its own connection) and the member's
// resident memory (VmRSS, sampled). Phases let a test compare before, during and after.
import { readFileSync } from "node:fs";
import * as http2 from "node:http2";
import { resolve } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { PutRequestSchema } from "../../src/gen/rpc_pb.ts";
import type { AttackResult } from "./h2-attacker.ts";
import { LineProcess } from "./line-process.ts";
import { REPO_ROOT } from "./target.ts";

export interface LatencyStats {
  count: number;
  p50: number;
  p99: number;
  max: number;
  failures: number;
}

function stats(xs: number[], failures: number): LatencyStats {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))]!);
  return { count: s.length, p50: at(0.5), p99: at(0.99), max: s.length === 0 ? NaN : s[s.length - 1]!, failures };
}

/** Sequential unary Puts over one HTTP/2 connection, timed, until stopped. */
export class LatencyProbe {
  private readonly session: http2.ClientHttp2Session;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private phaseName = "idle";
  private readonly samples = new Map<string, { ms: number[]; failures: number }>();
  private readonly body: Buffer;

  constructor(port: number, host = "127.0.0.1") {
    this.session = http2.connect(`http://${host}:${port}`);
    this.session.on("error", () => {});
    const msg = toBinary(PutRequestSchema, create(PutRequestSchema, { key: new TextEncoder().encode("probe"), value: new TextEncoder().encode("v") }));
    this.body = Buffer.alloc(5 + msg.length);
    this.body.writeUInt32BE(msg.length, 1);
    this.body.set(msg, 5);
  }

  /** One Put; resolves with its latency in ms, or rejects (status not 0, timeout). */
  put(timeoutMs = 5000): Promise<number> {
    const t0 = performance.now();
    return new Promise((ok, ko) => {
      const req = this.session.request({ ":method": "POST", ":path": "/etcdserverpb.KV/Put", "content-type": "application/grpc", te: "trailers" });
      const timer = setTimeout(() => {
        req.close();
        ko(new Error("put timed out"));
      }, timeoutMs);
      let status: string | undefined;
      req.on("response", (h) => (status = h["grpc-status"] as string | undefined ?? status));
      req.on("trailers", (t) => (status = t["grpc-status"] as string | undefined));
      req.on("data", () => {});
      req.on("error", (e) => {
        clearTimeout(timer);
        ko(e);
      });
      req.on("close", () => {
        clearTimeout(timer);
        if (status === "0") ok(performance.now() - t0);
        else ko(new Error(`put answered grpc-status ${status}`));
      });
      req.end(this.body);
    });
  }

  /** Starts recording under `name` (a new phase). */
  phase(name: string): void {
    this.phaseName = name;
    if (!this.samples.has(name)) this.samples.set(name, { ms: [], failures: 0 });
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const bucket = this.samples.get(this.phaseName)!;
        try {
          bucket.ms.push(await this.put());
        } catch {
          bucket.failures++;
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.session.close();
  }

  stats(name: string): LatencyStats {
    const b = this.samples.get(name) ?? { ms: [], failures: 0 };
    return stats(b.ms, b.failures);
  }
}

/** The resident set size of a process, in MiB. */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+([0-9]+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

/** Samples a process's RSS every `everyMs` and keeps the peak. */
export class RssSampler {
  peak = 0;
  private readonly timer: ReturnType<typeof setInterval>;
  constructor(private readonly pid: number, everyMs = 50) {
    this.peak = rssMiB(pid);
    this.timer = setInterval(() => {
      try {
        this.peak = Math.max(this.peak, rssMiB(pid));
      } catch {
        // the process is gone; the test notices that by itself
      }
    }, everyMs);
  }
  stop(): number {
    clearInterval(this.timer);
    try {
      this.peak = Math.max(this.peak, rssMiB(this.pid));
    } catch {
      // gone
    }
    return this.peak;
  }
}

const BUN = process.execPath;

/** Runs `test/helpers/h2-attacker.ts <kind> <port> <ms>` in its own process and returns its tally. */
export async function runAttacker(kind: string, port: number, ms: number): Promise<AttackResult> {
  const p = new LineProcess(BUN, [resolve(REPO_ROOT, "test/helpers/h2-attacker.ts"), kind, String(port), String(ms)]);
  const r = await p.exited;
  const line = p.stdoutLines.find((l) => l.startsWith("{"));
  if (r.code !== 0 || line === undefined) throw new Error(`attacker ${kind} failed\n${p.describe()}`);
  return JSON.parse(line) as AttackResult;
}
