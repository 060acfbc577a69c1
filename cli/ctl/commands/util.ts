// Helpers shared by commands: failing with etcdctl's exit code on a client error.
import { ClientError } from "../../../src/client/index.ts";
import { Exit, fail } from "../exit.ts";
import { type Globals, hintFor } from "../globals.ts";

/** Runs a call; a client error ends the command with `code` (etcdctl's ExitError by default). */
export async function callOrFail<T>(g: Globals, f: () => Promise<T>, code: number = Exit.Error, wrap?: (text: string) => string): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ClientError) fail(code, wrap ? wrap(e.text) : e.text, hintFor(e, g));
    throw e;
  }
}
