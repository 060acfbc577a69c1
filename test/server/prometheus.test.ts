// The Prometheus primitives print what Go's client_golang prints for etcd: the expected texts
// below are copied from etcd 3.4.23's own /metrics (bucket bounds, big gauges, sums).
import { expect, test } from "bun:test";
import { escapeHelp, escapeLabelValue, exponentialBuckets, formatFloat, Histogram, Registry } from "../../src/server/prometheus.ts";
import { KvCounters } from "../../src/server/kv-counters.ts";

test("floats print as Go's strconv 'g' shortest form", () => {
  const cases: [number, string][] = [
    [0, "0"],
    [1, "1"],
    [-1, "-1"],
    [3, "3"],
    [524288, "524288"],
    [1048576, "1.048576e+06"],
    [2147483648, "2.147483648e+09"],
    [25800704, "2.5800704e+07"],
    [1796647682.64, "1.79664768264e+09"],
    [18446744073709551615, "1.8446744073709552e+19"],
    [0.001, "0.001"],
    [0.0001, "0.0001"],
    [0.00001, "1e-05"],
    [0.000354511, "0.000354511"],
    [0.011484040000000001, "0.011484040000000001"],
    [8.192, "8.192"],
    [163.84, "163.84"],
    [409.6, "409.6"],
    [100000, "100000"],
    [1e21, "1e+21"],
    [-2.5e-7, "-2.5e-07"],
    [Infinity, "+Inf"],
    [-Infinity, "-Inf"],
    [NaN, "NaN"],
  ];
  for (const [v, s] of cases) expect(`${v} -> ${formatFloat(v)}`).toBe(`${v} -> ${s}`);
});

test("etcd's bucket bounds print as etcd prints its le labels", () => {
  expect(exponentialBuckets(0.001, 2, 14).map(formatFloat)).toEqual([
    "0.001", "0.002", "0.004", "0.008", "0.016", "0.032", "0.064", "0.128", "0.256", "0.512", "1.024", "2.048", "4.096", "8.192",
  ]);
  expect(exponentialBuckets(0.01, 2, 17).map(formatFloat).slice(-4)).toEqual(["81.92", "163.84", "327.68", "655.36"]);
  expect(exponentialBuckets(0.1, 2, 13).map(formatFloat).slice(-3)).toEqual(["102.4", "204.8", "409.6"]);
  expect(exponentialBuckets(1, 2, 24).map(formatFloat).slice(-4)).toEqual(["1.048576e+06", "2.097152e+06", "4.194304e+06", "8.388608e+06"]);
});

test("label values and help texts are escaped as the text format requires", () => {
  expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  expect(escapeLabelValue("plain")).toBe("plain");
  expect(escapeHelp('say "x"\\y\nz')).toBe('say "x"\\\\y\\nz');
  const r = new Registry();
  r.counterVec("x_total", "Help.", ["Reason"]).with('etcdserver: "quoted"\n').inc();
  expect(r.render()).toContain('x_total{Reason="etcdserver: \\"quoted\\"\\n"} 1\n');
});

test("a histogram renders cumulative buckets, +Inf equal to the count, the sum", () => {
  const r = new Registry();
  const h = r.histogram("d_seconds", "Durations.", [0.001, 0.002, 0.004]);
  for (const v of [0.0005, 0.001, 0.0015, 0.003, 5]) h.observe(v);
  expect(r.render()).toBe(
    [
      "# HELP d_seconds Durations.",
      "# TYPE d_seconds histogram",
      'd_seconds_bucket{le="0.001"} 2',
      'd_seconds_bucket{le="0.002"} 3',
      'd_seconds_bucket{le="0.004"} 4',
      'd_seconds_bucket{le="+Inf"} 5',
      "d_seconds_sum 5.006",
      "d_seconds_count 5",
      "",
    ].join("\n"),
  );
  expect(h).toBeInstanceOf(Histogram);
});

test("families sort by name, series by label values, label pairs by name; empty vectors print nothing", () => {
  const r = new Registry();
  const v = r.counterVec("b_total", "B.", ["z", "a"]);
  v.with("2", "y").inc(3);
  v.with("1", "y").inc();
  r.gauge("a_gauge", "A.").set(7);
  r.gaugeVec("c_empty", "Never set.", ["x"]);
  const hv = r.histogramVec("d_seconds", "D.", ["step"], [1]);
  hv.with("apply").observe(2);
  expect(r.render()).toBe(
    [
      "# HELP a_gauge A.",
      "# TYPE a_gauge gauge",
      "a_gauge 7",
      "# HELP b_total B.",
      "# TYPE b_total counter",
      'b_total{a="y",z="1"} 1',
      'b_total{a="y",z="2"} 3',
      "# HELP d_seconds D.",
      "# TYPE d_seconds histogram",
      'd_seconds_bucket{step="apply",le="1"} 0',
      'd_seconds_bucket{step="apply",le="+Inf"} 1',
      'd_seconds_sum{step="apply"} 2',
      'd_seconds_count{step="apply"} 1',
      "",
    ].join("\n"),
  );
  expect(() => r.counter("a_gauge", "again")).toThrow(/registered twice/);
});

test("scrape-time gauges and counters read their source when rendered", () => {
  const r = new Registry();
  let n = 1;
  r.gaugeFunc("g", "G.", () => n);
  r.counterFunc("c_total", "C.", () => n * 10);
  expect(r.render()).toContain("\ng 1\n");
  n = 2;
  const text = r.render();
  expect(text).toContain("\ng 2\n");
  expect(text).toContain("\nc_total 20\n");
});

test("mvcc counters: a store transaction of more than one operation is a txn (etcd's metricsTxnWrite)", () => {
  const k = new KvCounters();
  k.ended(0, 1, 0); // a put
  k.ended(1, 0, 0); // a range
  k.ended(1, 1, 0); // a put with prev_kv
  k.ended(0, 2, 1); // a txn's writes
  expect([k.range.value, k.put.value, k.delete.value, k.txn.value]).toEqual([2, 4, 1, 2]);
});
