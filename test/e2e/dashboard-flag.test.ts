// --enable-dashboard=false: /ui answers as etcd does (no dashboard: 404 "404 page not found")
// while the gateway and /metrics work as before. The flag is Conclave's own.
import { describe, expect, test } from "bun:test";
import { isEtcd, useMember } from "../helpers/index.ts";

describe.skipIf(isEtcd())("--enable-dashboard", () => {
  const env = useMember({ extraArgs: ["--enable-dashboard=false"] });
  test("off: /ui is not served; the gateway still is", async () => {
    const { member, gw } = env();
    for (const path of ["/ui", "/ui/", "/ui/api/info"]) {
      const r = await fetch(`${member.clientURL}${path}`);
      expect(r.status).toBe(404);
      expect(await r.text()).toBe("404 page not found\n");
    }
    expect((await gw.post("/v3/kv/range", { key: "Zm9v" })).status).toBe(200);
    expect(await (await fetch(`${member.clientURL}/metrics`)).text()).toContain("grpc_server_started_total{grpc_method=\"Range\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 1");
  });
});
