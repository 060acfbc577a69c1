// The dashboard's files, compiled into the executable by scripts/build-ui.ts (src/gen/ui-assets.ts):
// decoded once, on the first request, and answered from memory (gzipped when the browser takes it).
import { uiAssets, uiIndex, type UiAsset } from "../../gen/ui-assets.ts";

export interface Asset {
  readonly type: string;
  readonly etag: string;
  readonly raw: Uint8Array;
  readonly gzip: Uint8Array;
}

function decode(a: UiAsset): Asset {
  return { type: a.type, etag: a.etag, raw: new Uint8Array(Buffer.from(a.body, "base64")), gzip: new Uint8Array(Buffer.from(a.gzip, "base64")) };
}

let table: { index: Asset; byName: Map<string, Asset> } | undefined;

function load(): { index: Asset; byName: Map<string, Asset> } {
  table ??= { index: decode(uiIndex), byName: new Map(uiAssets.map((a) => [a.name, decode(a)])) };
  return table;
}

/** index.html (names the hashed assets). */
export function indexAsset(): Asset {
  return load().index;
}

/** A hashed asset by file name, e.g. "app.3f2a9c1e0b7d.js". */
export function assetByName(name: string): Asset | undefined {
  return load().byName.get(name);
}

/**
 * The response for `asset`: 304 when the browser's copy is current, the gzipped bytes when it
 * accepts gzip. `cacheControl` distinguishes immutable hashed files from index.html.
 */
export function assetResponse(asset: Asset, req: Request, cacheControl: string): Response {
  const headers: Record<string, string> = { "content-type": asset.type, etag: asset.etag, "cache-control": cacheControl, vary: "accept-encoding" };
  if (req.headers.get("if-none-match") === asset.etag) return new Response(null, { status: 304, headers });
  const gzip = /\bgzip\b/.test(req.headers.get("accept-encoding") ?? "");
  const body = gzip ? asset.gzip : asset.raw;
  if (gzip) headers["content-encoding"] = "gzip";
  headers["content-length"] = String(body.length);
  return new Response(req.method === "HEAD" ? null : (body as Uint8Array<ArrayBuffer>), { status: 200, headers });
}
