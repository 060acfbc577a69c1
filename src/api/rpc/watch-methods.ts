// The two bidi streams: Watch (multiplexed watchers behind the server's WatchStream) and
// LeaseKeepAlive (one renewal per request, answered in order).
import { Lease, Watch } from "../../gen/rpc_pb.ts";
import { bidi } from "./method.ts";
import { frameWatchResponse } from "./watch-codec.ts";

export const watchMethod = bidi(
  Watch.method.watch,
  (server, ctx, sink) => {
    const ws = server.openWatchStream(
      (resp) => sink.send(resp),
      ctx,
      (err) => sink.end(err),
    );
    return {
      message(req) {
        const u = req.requestUnion;
        switch (u.case) {
          case "createRequest":
            ws.create(u.value);
            break;
          case "cancelRequest":
            ws.cancel(Number(u.value.watchId));
            break;
          case "progressRequest":
            ws.progress();
            break;
          default:
            // An empty WatchRequest: etcd ignores it.
            break;
        }
      },
      // etcd keeps a watch stream open after the client half-closes; only cancel ends it.
      end() {},
      close() {
        ws.close();
      },
    };
  },
  { auth: { kind: "watch" } },
  frameWatchResponse,
);

export const leaseKeepAliveMethod = bidi(
  Lease.method.leaseKeepAlive,
  (server, ctx, sink) => {
    let chain: Promise<void> = Promise.resolve();
    let closed = false;
    const fail = (err: unknown) => {
      if (closed) return;
      closed = true;
      sink.end(err);
    };
    return {
      message(req) {
        chain = chain
          .then(async () => {
            if (closed) return;
            const resp = await server.leaseKeepAlive(req.ID, ctx);
            if (!closed) sink.send(resp);
          })
          .catch(fail);
      },
      // etcd returns OK once the client half-closes, after the answers already owed.
      end() {
        chain = chain.then(() => {
          if (closed) return;
          closed = true;
          sink.end();
        });
      },
      close() {
        closed = true;
      },
    };
  },
  { auth: { kind: "keepalive" } },
);
