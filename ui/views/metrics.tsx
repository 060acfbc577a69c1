// Metrics: a few live charts from this member's own /metrics (no external service): requests
// per second, WAL fsync (commit) latency, and the database size, sampled every 2 s.
import { useRef, useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import { humanBytes } from "../lib/bytes.ts";
import { parseMetrics } from "../lib/metrics.ts";
import type { Session } from "../lib/session.ts";
import { ErrorBox, Section, usePoll } from "./common.tsx";

interface Sample {
  t: number;
  requests: number;
  fsyncSum: number;
  fsyncCount: number;
  dbSize: number;
  dbInUse: number;
  revision: number;
}

const SAMPLES = 90; // 3 minutes at 2 s
const STEP_MS = 2000;

export function MetricsView(_: { session: Session }) {
  const [samples, setSamples] = useState<Sample[]>([]);
  const ref = useRef<Sample[]>([]);

  const error = usePoll(async (signal) => {
    const m = parseMetrics(await api.get("/metrics", signal));
    const s: Sample = {
      t: Date.now(),
      requests: m.get("grpc_server_started_total") ?? 0,
      fsyncSum: m.get("etcd_disk_wal_fsync_duration_seconds_sum") ?? 0,
      fsyncCount: m.get("etcd_disk_wal_fsync_duration_seconds_count") ?? 0,
      dbSize: m.get("etcd_mvcc_db_total_size_in_bytes") ?? 0,
      dbInUse: m.get("etcd_mvcc_db_total_size_in_use_in_bytes") ?? 0,
      revision: m.get("etcd_debugging_mvcc_current_revision") ?? 0,
    };
    ref.current = [...ref.current, s].slice(-SAMPLES);
    setSamples(ref.current);
  }, STEP_MS);

  const rate: number[] = [];
  const latency: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    const dt = (b.t - a.t) / 1000;
    rate.push(dt > 0 ? Math.max(0, b.requests - a.requests) / dt : 0);
    const n = b.fsyncCount - a.fsyncCount;
    latency.push(n > 0 ? ((b.fsyncSum - a.fsyncSum) / n) * 1000 : 0);
  }
  const last = samples[samples.length - 1];
  return (
    <>
      <ErrorBox error={error} />
      <div class="charts">
        <Section title="Requests per second">
          <Chart series={[rate]} format={(v) => v.toFixed(1)} testid="chart-rate" />
        </Section>
        <Section title="Commit latency (WAL fsync, ms)">
          <Chart series={[latency]} format={(v) => v.toFixed(2)} testid="chart-latency" />
        </Section>
        <Section title="Database size (total, in use)">
          <Chart series={[samples.map((s) => s.dbSize), samples.map((s) => s.dbInUse)]} format={humanBytes} testid="chart-db" />
        </Section>
      </div>
      {last !== undefined && (
        <p class="muted" data-testid="metrics-summary">
          revision {last.revision}, {last.requests} requests served, database {humanBytes(last.dbSize)} ({humanBytes(last.dbInUse)} in use)
        </p>
      )}
    </>
  );
}

const W = 360;
const H = 120;

/** A line chart in SVG (attributes only: the CSP allows no inline styles). */
function Chart({ series, format, testid }: { series: number[][]; format: (v: number) => string; testid: string }) {
  const all = series.flat();
  const max = Math.max(1e-9, ...all);
  const pts = (s: number[]) => s.map((v, i) => `${((i / Math.max(1, SAMPLES - 1)) * W).toFixed(1)},${(H - (v / max) * (H - 10)).toFixed(1)}`).join(" ");
  const cur = series[0]![series[0]!.length - 1];
  return (
    <figure class="chart" data-testid={testid}>
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img">
        <line x1="0" y1={H - 0.5} x2={W} y2={H - 0.5} class="axis" />
        {series.map((s, i) => (
          <polyline key={i} points={pts(s)} class={`line line-${i}`} fill="none" />
        ))}
      </svg>
      <figcaption>
        now <strong data-testid="chart-now">{cur === undefined ? "…" : format(cur)}</strong>, max {all.length === 0 ? "…" : format(max)}
      </figcaption>
    </figure>
  );
}
