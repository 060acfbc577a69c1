// `conclave pki`: the certificate maker. Not built yet: the subcommand answers so, with exit status 1.
export async function main(_args: string[]): Promise<number> {
  process.stderr.write("conclave pki: the certificate maker is not built yet\n");
  return 1;
}
