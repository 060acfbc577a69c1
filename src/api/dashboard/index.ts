// The web dashboard served at /ui on the client port.
import type { HttpRoute } from "../http/router.ts";
import { dashboardApp, type DashboardOptions } from "./app.ts";

export { CONTENT_SECURITY_POLICY } from "./security.ts";
export type { DashboardOptions } from "./app.ts";
export { memberFetch, type DialMaterial } from "./member-fetch.ts";

/** The /ui route for the client port's router. */
export function dashboardRoute(opts: DashboardOptions): HttpRoute {
  const app = dashboardApp(opts);
  return { prefix: "/ui", fetch: (req) => app.fetch(req), cors: false };
}
