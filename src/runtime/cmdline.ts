// The process's command line as it was started (Go's os.Args, which etcd's /debug/vars shows):
// /proc/self/cmdline on Linux keeps argv[0] as typed, which the runtime's process.argv does
// not (a compiled executable reports its embedded script path there).
//
// Secrets are masked: /debug/vars is open to anyone who reaches the client port, auth on or
// not. etcd prints os.Args as they are, and it has no flag taking a password in 3.4; the
// v3 discovery flags this member also takes (etcd 3.6's) do: --discovery-password, the
// password after "user:" in --discovery-user, and a discovery URL may carry "user:password@".
import { readFileSync } from "node:fs";

/** What a masked secret is printed as. */
export const MASKED = "xxxxx";

export function processCmdline(read: (path: string) => string = (p) => readFileSync(p, "utf8")): string[] {
  try {
    const raw = read("/proc/self/cmdline");
    const args = raw.endsWith("\0") ? raw.slice(0, -1).split("\0") : raw.split("\0");
    if (args.length > 0 && args[0] !== "") return maskSecrets(args);
  } catch {
    // not Linux, or /proc not mounted: fall through
  }
  return maskSecrets([process.argv0, ...process.argv.slice(2)]);
}

/**
 * The arguments with the secrets in them masked. Flags are read as Go's flag package reads them:
 * one or two dashes, the value after "=" or in the next argument.
 */
export function maskSecrets(args: readonly string[]): string[] {
  const out = args.map(maskUrlPassword);
  for (let i = 1; i < out.length; i++) {
    const m = /^--?(discovery-password|discovery-user)(=.*)?$/s.exec(args[i]!);
    if (m === null) continue;
    const name = m[1]!;
    const mask = (v: string) => (name === "discovery-password" ? MASKED : maskUserPassword(v));
    if (m[2] !== undefined) out[i] = `${args[i]!.slice(0, args[i]!.length - m[2].length)}=${mask(m[2].slice(1))}`;
    else if (i + 1 < out.length) {
      out[i + 1] = mask(args[i + 1]!);
      i++;
    }
  }
  return out;
}

/** "user:password" -> "user:xxxxx"; a user alone stays. */
function maskUserPassword(v: string): string {
  const colon = v.indexOf(":");
  return colon < 0 ? v : `${v.slice(0, colon + 1)}${MASKED}`;
}

/** The password of every "scheme://user:password@" in an argument (flag values, URL lists). */
function maskUrlPassword(arg: string): string {
  return arg.replace(/(\b[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^:@/\s,]*:)[^@/\s,]*@/g, `$1${MASKED}@`);
}
