// /debug/vars is open to anyone who reaches the client port: the command line it prints has the
// v3 discovery credentials (flags etcd 3.4 does not have) masked. Conclave only: etcd 3.4
// refuses these flags.
import { describe, expect, test } from "bun:test";
import { Gateway, isEtcd, Member } from "../helpers/index.ts";

describe.if(!isEtcd())("/debug/vars command line", () => {
  test("passwords given on the command line are not served", async () => {
    const member = await Member.start({
      name: "dvs",
      extraArgs: ["--discovery-password", "pw-one-s3cret", "--discovery-user=root:pw-two-s3cret"],
    });
    try {
      const r = await new Gateway(member.clientURL).get("/debug/vars");
      expect(r.status).toBe(200);
      expect(r.text).not.toContain("s3cret");
      const cmdline = r.json.cmdline as string[];
      expect(cmdline.slice(-3)).toEqual(["--discovery-password", "xxxxx", "--discovery-user=root:xxxxx"]);
    } finally {
      await member.cleanup();
    }
  });
});
