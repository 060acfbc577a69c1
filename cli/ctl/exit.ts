// etcdctl's exit codes and the error that carries one to main().

export const Exit = {
  Success: 0,
  Error: 1,
  BadConnection: 2,
  InvalidInput: 3,
  BadFeature: 4,
  Interrupted: 5,
  IO: 6,
  BadArgs: 128,
} as const;

/** Ends the command: "Error: <message>" on stderr (unless already printed) and the exit code. */
export class CtlExit extends Error {
  constructor(readonly code: number, message: string, readonly printed = false, readonly hint?: string) {
    super(message);
  }
}

export function fail(code: number, message: string, hint?: string): never {
  throw new CtlExit(code, message, false, hint);
}

/** Exit with a code after the command already printed what it had to say. */
export function exitQuietly(code: number): never {
  throw new CtlExit(code, "", true);
}
