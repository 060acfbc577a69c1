// Security of every /ui response: a strict Content-Security-Policy (scripts, styles and
// connections from this origin only, no inline code, no framing), and a same-origin check for
// every state-changing dashboard route (the CSRF defence besides the token being a header).
import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { DashboardErrors } from "./errors.ts";

/** The policy: nothing inline, nothing from another origin, no framing, no plugins, no forms. */
export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  manifestSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
};

export const dashboardHeaders = (): MiddlewareHandler =>
  secureHeaders({
    contentSecurityPolicy: CONTENT_SECURITY_POLICY,
    xFrameOptions: "DENY",
    referrerPolicy: "no-referrer",
    crossOriginOpenerPolicy: "same-origin",
    crossOriginResourcePolicy: "same-origin",
    crossOriginEmbedderPolicy: false,
    // The client port may be plain HTTP; HSTS belongs to whoever terminates TLS.
    strictTransportSecurity: false,
    permissionsPolicy: { camera: [], microphone: [], geolocation: [], payment: [], usb: [] },
  });

/**
 * Refuses a state-changing request a browser sent from another origin: `Sec-Fetch-Site` must
 * be same-origin when present, else `Origin` (when present) must be this origin. Requests
 * without either (curl, scripts) pass: they are not a browser acting for someone.
 *
 * hono's csrf middleware checks only form-like content types and relies on the CORS preflight
 * for JSON; the client port answers every preflight (etcd's --cors, default "*"), so it would
 * not stop a cross-origin JSON POST here.
 */
export const sameOriginOnly = (): MiddlewareHandler => async (c, next) => {
  if (c.req.method === "GET" || c.req.method === "HEAD") return next();
  const site = c.req.header("sec-fetch-site");
  const origin = c.req.header("origin");
  const self = new URL(c.req.url).origin;
  const crossSite = site !== undefined ? site !== "same-origin" : origin !== undefined && origin !== self;
  if (crossSite) {
    const e = DashboardErrors.crossOrigin;
    return c.json({ error: e.message, message: e.message, code: e.code }, 403);
  }
  return next();
};
