// Free loopback ports: bind port 0, read what the kernel picked, release it. Another process
// could grab it in between, but the window is tiny, so a collision with another process is rare
// enough for tests that bind right after asking. A port released here is free again for the
// kernel, which may pick it for the next bind(0) of this process too (one member's client port
// was another's peer port in a CI run): so no port is handed out twice in one test process.
import { createServer } from "node:net";

const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (let tries = 0; ; tries++) {
    const p = await kernelPort();
    if (!handedOut.has(p) || tries >= 1000) {
      handedOut.add(p);
      return p;
    }
  }
}

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      if (addr === null || typeof addr === "string") {
        srv.close();
        reject(new Error("listening on port 0 gave no port"));
        return;
      }
      const port = addr.port;
      srv.close(() => resolve(port));
    });
  });
}

/** Distinct free ports (a member needs a client and a peer port). */
export async function freePorts(n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort();
    if (!out.includes(p)) out.push(p);
  }
  return out;
}
