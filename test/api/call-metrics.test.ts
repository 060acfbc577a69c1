// go-grpc-prometheus' counters kept by the pipeline: series per registered method and code at
// zero from the start, others on first use; client API versions from client metadata bounded.
import { expect, test } from "bun:test";
import { CallMetrics } from "../../src/api/pipeline/call-metrics.ts";
import { rpcTable } from "../../src/api/rpc/table.ts";
import { EtcdError } from "../../src/rpctypes/index.ts";

test("registered methods have a series per code at zero; Lock appears with its first call", () => {
  const m = new CallMetrics(rpcTable.values());
  let text = m.render();
  expect(text).toContain('grpc_server_handled_total{grpc_code="Unauthenticated",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"} 0\n');
  expect(text).toContain('grpc_server_started_total{grpc_method="Watch",grpc_service="etcdserverpb.Watch",grpc_type="bidi_stream"} 0\n');
  expect(text).not.toContain("v3lockpb");
  expect(text).not.toContain("AuthStatus");
  const lock = m.of(rpcTable.get("/v3lockpb.Lock/Lock")!);
  lock.started.inc();
  lock.failed(new EtcdError(4, "context deadline exceeded"));
  text = m.render();
  expect(text).toContain('grpc_server_handled_total{grpc_code="DeadlineExceeded",grpc_method="Lock",grpc_service="v3lockpb.Lock",grpc_type="unary"} 1\n');
  expect(text).not.toContain('grpc_code="OK",grpc_method="Lock"');
});

test("client API versions: major.minor values only, a bounded number of them", () => {
  const m = new CallMetrics([]);
  m.clientRequest(false, "3.4");
  m.clientRequest(false, undefined);
  m.clientRequest(true, "3.4");
  m.clientRequest(false, 'x"\n');
  for (let i = 0; i < 1000; i++) m.clientRequest(false, `1.${i}`);
  const lines = m.render().split("\n").filter((l) => l.startsWith("etcd_server_client_requests_total{"));
  expect(lines).toContain('etcd_server_client_requests_total{client_api_version="3.4",type="unary"} 1');
  expect(lines).toContain('etcd_server_client_requests_total{client_api_version="3.4",type="stream"} 1');
  // 32 series in all: 3.4, unknown and the first 30 of the others.
  expect(lines.filter((l) => l.includes('type="unary"')).length).toBe(32);
  const unknown = lines.find((l) => l.includes('"unknown",type="unary"'))!;
  // No metadata, the malformed value, and the versions past the bound.
  expect(Number(unknown.split(" ")[1])).toBe(2 + 1000 - 30);
});
