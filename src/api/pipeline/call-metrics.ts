// go-grpc-prometheus' server metrics as etcd 3.4 exports them: calls started, handled (by
// status code), stream messages received and sent, per method; plus etcd's byte counters of
// the client port's gRPC messages. Every call of the pipeline (gRPC and the JSON gateway, which
// in etcd is a gRPC client of its own port) is counted; the internal calls of Lock and Election
// are not (etcd makes them on an in-process client that bypasses the interceptors).
import { Code, EtcdError } from "../../rpctypes/index.ts";
import { type Counter, Registry } from "../../server/prometheus.ts";
import type { RpcMethod } from "../rpc/method.ts";

/** go-grpc-prometheus' grpc_type label. */
const GRPC_TYPE: Record<RpcMethod["kind"], string> = {
  unary: "unary",
  server_streaming: "server_stream",
  bidi_streaming: "bidi_stream",
};

/** Distinct client API versions counted apart, per call type. */
const MAX_CLIENT_VERSIONS = 32;

/** Status code names, by number (grpc-go's codes.Code String()). */
const CODE_NAMES: readonly string[] = Object.entries(Code)
  .sort((a, b) => a[1] - b[1])
  .map(([name]) => name);

/**
 * Methods etcd 3.4 does not register before go-grpc-prometheus' InitializeMetrics: their series
 * appear on first use. (Lock and Election are registered after it; AuthStatus is newer than 3.4.)
 */
function preinitialized(path: string): boolean {
  return !path.startsWith("/v3lockpb.") && !path.startsWith("/v3electionpb.") && path !== "/etcdserverpb.Auth/AuthStatus";
}

/** One method's counters; the hot path adds to their fields. */
export class MethodCounters {
  readonly started: Counter;
  readonly received: Counter;
  readonly sent: Counter;
  private readonly handledBy: (Counter | undefined)[];

  constructor(
    private readonly m: CallMetrics,
    private readonly labels: readonly [string, string, string],
    preinit: boolean,
  ) {
    this.started = m.startedFamily.with(...labels);
    this.received = m.receivedFamily.with(...labels);
    this.sent = m.sentFamily.with(...labels);
    this.handledBy = CODE_NAMES.map(() => undefined);
    // InitializeMetrics: every code of every registered method, at zero.
    if (preinit) for (let c = 0; c < CODE_NAMES.length; c++) this.handledCounter(c);
  }

  private handledCounter(code: number): Counter {
    return (this.handledBy[code] ??= this.m.handledFamily.with(CODE_NAMES[code] ?? "Unknown", ...this.labels));
  }

  /** The call ended with this status code. */
  handled(code: number): void {
    this.handledCounter(code).value++;
  }

  /** A unary call answered: its response sent, handled with OK (a promise callback, made once). */
  readonly succeeded = <T>(res: T): T => {
    this.sent.value++;
    this.handledCounter(Code.OK).value++;
    return res;
  };

  /** A call failed with `err` (already mapped to etcd's status). */
  failed(err: EtcdError): EtcdError {
    this.handledCounter(err.code).value++;
    return err;
  }
}

export class CallMetrics {
  readonly registry = new Registry();
  readonly startedFamily = this.registry.counterVec("grpc_server_started_total", "Total number of RPCs started on the server.", [
    "grpc_type",
    "grpc_service",
    "grpc_method",
  ]);
  readonly handledFamily = this.registry.counterVec(
    "grpc_server_handled_total",
    "Total number of RPCs completed on the server, regardless of success or failure.",
    ["grpc_code", "grpc_type", "grpc_service", "grpc_method"],
  );
  readonly receivedFamily = this.registry.counterVec("grpc_server_msg_received_total", "Total number of RPC stream messages received on the server.", [
    "grpc_type",
    "grpc_service",
    "grpc_method",
  ]);
  readonly sentFamily = this.registry.counterVec("grpc_server_msg_sent_total", "Total number of gRPC stream messages sent by the server.", [
    "grpc_type",
    "grpc_service",
    "grpc_method",
  ]);
  /** etcd's v3rpc codec counters: bytes of the gRPC messages read and written. */
  readonly receivedBytes = this.registry.counter("etcd_network_client_grpc_received_bytes_total", "The total number of bytes received from grpc clients.");
  readonly sentBytes = this.registry.counter("etcd_network_client_grpc_sent_bytes_total", "The total number of bytes sent to grpc clients.");
  private readonly byMethod = new Map<RpcMethod, MethodCounters>();
  /** etcd's v3rpc interceptors: calls per client API version, unary and stream. */
  private readonly clientRequests = this.registry.counterVec(
    "etcd_server_client_requests_total",
    "The total number of client requests per client version.",
    ["type", "client_api_version"],
  );
  private readonly unaryByVersion = new Map<string, Counter>();
  private readonly streamByVersion = new Map<string, Counter>();

  constructor(methods: Iterable<RpcMethod>) {
    // InitializeMetrics: the registered methods' series exist from the start; the others'
    // appear with their first call.
    for (const m of methods) if (preinitialized(m.path)) this.byMethod.set(m, this.create(m));
  }

  private create(m: RpcMethod): MethodCounters {
    const slash = m.path.lastIndexOf("/");
    return new MethodCounters(this, [GRPC_TYPE[m.kind], m.path.slice(1, slash), m.path.slice(slash + 1)], preinitialized(m.path));
  }

  /** A call from a client of this API version ("unknown" without the metadata). */
  clientRequest(stream: boolean, version: string | undefined): void {
    const by = stream ? this.streamByVersion : this.unaryByVersion;
    let c = by.get(version ?? "unknown");
    if (c === undefined) {
      // The value comes from the client: only a major.minor, and a bounded number of them, gets a
      // series of its own (a client sending a new value per call must not grow /metrics without
      // end); anything else counts as unknown.
      const v = version !== undefined && by.size < MAX_CLIENT_VERSIONS && /^\d{1,4}\.\d{1,4}$/.test(version) ? version : "unknown";
      c = by.get(v);
      if (c === undefined) by.set(v, (c = this.clientRequests.with(stream ? "stream" : "unary", v)));
    }
    c.value++;
  }

  of(m: RpcMethod): MethodCounters {
    let c = this.byMethod.get(m);
    if (c === undefined) this.byMethod.set(m, (c = this.create(m)));
    return c;
  }

  render(): string {
    return this.registry.render();
  }
}
