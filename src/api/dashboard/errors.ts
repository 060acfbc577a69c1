// The dashboard routes' own refusals (not etcd texts: etcd has no dashboard), in the gateway's
// error shape with a gRPC code, so the page shows them like any other failure.
import { Code, EtcdError } from "../../rpctypes/index.ts";

export const DashboardErrors = {
  crossOrigin: new EtcdError(Code.PermissionDenied, "cross-origin request refused"),
  badMemberId: (id: string) => new EtcdError(Code.InvalidArgument, `bad member ID arg (${JSON.stringify(id)}), expecting ID in Hex`),
  notStarted: (id: string) => new EtcdError(Code.Unavailable, `member ${id} has not published its client URLs (not started)`),
  noDashboard: (id: string) => new Error(`member ${id} does not serve the dashboard (--enable-dashboard=false)`),
  unreachable: (id: string, urls: readonly string[], cause: unknown) =>
    new EtcdError(Code.Unavailable, `cannot reach member ${id} at ${urls.join(",")}: ${cause instanceof Error ? cause.message : String(cause)}`),
};
