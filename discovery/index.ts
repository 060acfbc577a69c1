// `conclave discovery`: the discovery service. Not built yet: the subcommand answers so, with exit status 1.
export async function main(_args: string[]): Promise<number> {
  process.stderr.write("conclave discovery: the discovery service is not built yet\n");
  return 1;
}
