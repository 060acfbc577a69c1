// `conclave ctl`: the etcdctl-compatible client. Not built yet: the subcommand answers so, with exit status 1.
export async function main(_args: string[]): Promise<number> {
  process.stderr.write("conclave ctl: the etcdctl-compatible client is not built yet\n");
  return 1;
}
