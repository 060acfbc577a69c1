// How the dashboard's member calls reach another member's client port: fetch for http URLs;
// for https URLs node:https with the member's own client-port TLS material, the way etcd's
// gateway dials its server (this member's certificate as the client certificate, the trusted
// CA to verify the other member; --auto-tls certificates are not verified, as etcd's auto-TLS
// clients skip verification).
import { request } from "node:https";
import type { FetchLike } from "./member-calls.ts";

/** What a TLS dial needs (src/tls's DialOptions has this shape). */
export interface DialMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
  readonly rejectUnauthorized: boolean;
  readonly ciphers: string | undefined;
  readonly minVersion: "TLSv1.2";
}

/** Largest answer read from another member (a Status or Defragment answer is a few hundred bytes). */
const MAX_ANSWER = 1 << 20;

export function memberFetch(dial: (() => DialMaterial) | undefined): FetchLike {
  return (url, init) => {
    if (!url.startsWith("https:")) return fetch(url, init);
    if (dial === undefined) return Promise.reject(new Error(`no client TLS configured to reach ${new URL(url).host}`));
    const d = dial();
    return new Promise<Response>((resolve, reject) => {
      const req = request(
        url,
        {
          method: init.method,
          headers: init.headers,
          cert: d.cert,
          key: d.key,
          ca: d.ca,
          rejectUnauthorized: d.rejectUnauthorized,
          ciphers: d.ciphers,
          minVersion: d.minVersion,
          signal: init.signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > MAX_ANSWER) req.destroy(new Error("member answer too large"));
            else chunks.push(c);
          });
          res.on("end", () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 502 })));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(init.body);
    });
  };
}
