// `conclave ctl v2 …` / ETCDCTL_API=2: etcdctl's v2 commands. Not built yet: says so and exits 1.
import { errln } from "../io.ts";

export async function mainV2(_args: string[]): Promise<number> {
  errln("Error: the v2 commands (ETCDCTL_API=2) are not built yet in conclave ctl; use the v3 commands");
  return 1;
}
