// Command-line parsing for `conclave pki`: node:util's parseArgs for the shape (unknown flags,
// missing values), valibot for the values (hosts, key sizes, durations, member specs). Every
// problem becomes one UsageError line; nothing is written before all flags have been checked.
import { parseArgs, type ParseArgsConfig } from "node:util";
import * as v from "valibot";
import { type KeySpec, keySpecError, parseHost, type San } from "../../src/tls/x509.ts";

/** A mistake in the command line: printed as one line, exit status 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A failure while doing the work (unreadable CA, unwritable directory): one line, exit status 1. */
export class PkiError extends Error {
  override readonly name = "PkiError";
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** The flags each certificate command shares. */
export const KEY_OPTIONS = {
  "key-algo": { type: "string", default: "ecdsa" },
  "key-size": { type: "string" },
  force: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const satisfies Options;

/**
 * parseArgs with its messages shortened to one line each. Flags may be given as --flag value
 * or --flag=value; repeated string flags collect when declared `multiple`.
 */
export function parseFlags<O extends Options>(command: string, args: string[], options: O, positionals = 0) {
  try {
    const r = parseArgs({ args, options, strict: true, allowPositionals: positionals > 0 });
    if (r.positionals.length > positionals) throw new UsageError(`unexpected argument "${r.positionals[positionals]}" (see conclave pki ${command} --help)`);
    return r;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const err = e as Error & { code?: string };
    const m = /'(-[^']*)'/.exec(err.message);
    const flag = m?.[1] ?? "";
    const see = `(see conclave pki ${command} --help)`;
    switch (err.code) {
      case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
        throw new UsageError(`unknown flag: ${flag.split(" ")[0]} ${see}`);
      case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
        throw new UsageError(`${/ argument missing$/.test(err.message) || /requires/.test(err.message) ? `flag needs a value: ${flag.split(" ")[0]}` : err.message.split("\n")[0]} ${see}`);
      case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
        throw new UsageError(`unexpected argument ${see}`);
      default:
        throw new UsageError(`${err.message.split("\n")[0]} ${see}`);
    }
  }
}

/** Runs a valibot schema and turns its first issue into a UsageError. */
export function check<S extends v.GenericSchema>(schema: S, value: unknown): v.InferOutput<S> {
  const r = v.safeParse(schema, value);
  if (r.success) return r.output;
  throw new UsageError(r.issues[0].message);
}

/** A host for the SANs: an IP address or a DNS name. */
export const HostSchema = v.pipe(
  v.string(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const san = parseHost(dataset.value.trim());
    if (san === undefined) {
      addIssue({ message: `invalid host "${dataset.value}": not an IP address or a DNS name` });
      return NEVER;
    }
    return san;
  }),
);

/** Comma-separated hosts, repeated flags joined. */
export function parseHosts(values: readonly string[] | undefined): San[] {
  const out: San[] = [];
  for (const item of values ?? []) {
    for (const h of item.split(",")) {
      const san = check(HostSchema, h);
      if (!out.some((o) => o.type === san.type && o.value === san.value)) out.push(san);
    }
  }
  return out;
}

const UNITS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000 };

/** A Go-style duration of hours, minutes and seconds ("8760h", "90m", "1h30m"), in milliseconds. */
export const DurationSchema = v.pipe(
  v.string(),
  v.regex(/^(\d+h)?(\d+m)?(\d+s)?$/, (i) => `invalid duration "${String(i.input)}" (hours, minutes, seconds as in 8760h or 90m)`),
  v.transform((s) => [...s.matchAll(/(\d+)([hms])/g)].reduce((ms, [, n, u]) => ms + Number(n) * UNITS[u!]!, 0)),
  v.check((ms) => ms > 0 && ms <= 100 * 365 * 24 * 3_600_000, "a duration must be more than 0 and at most 100 years"),
);

export function parseKeySpec(algo: string, size: string | undefined): KeySpec {
  const a = check(v.picklist(["ecdsa", "rsa"], `invalid key algorithm "${algo}" (ecdsa or rsa)`), algo);
  const n = size === undefined ? (a === "ecdsa" ? 256 : 2048) : check(v.pipe(v.string(), v.regex(/^\d{1,5}$/, `invalid key size "${size}"`), v.transform(Number)), size);
  const spec = { algo: a, size: n };
  const err = keySpecError(spec);
  if (err !== undefined) throw new UsageError(err);
  return spec;
}

/** A name used in file names and as a CN: no path separators, no control characters. */
export const NameSchema = (what: string) =>
  v.pipe(
    v.string(),
    v.minLength(1, `${what} must not be empty`),
    v.maxLength(64, `${what} is longer than 64 characters`),
    v.regex(/^[A-Za-z0-9][A-Za-z0-9._@-]*$/, (i) => `invalid ${what} "${String(i.input)}" (letters, digits, '.', '_', '@', '-')`),
  );

/** A common name: printable, at most 64 characters (the X.509 upper bound). */
export const CommonNameSchema = v.pipe(
  v.string(),
  v.minLength(1, "--cn must not be empty"),
  v.maxLength(64, "--cn is longer than 64 characters"),
  v.regex(/^[\x20-\x7e]+$/, "--cn must be printable ASCII"),
);

/** --member NAME=HOST[,HOST…] */
export function parseMember(spec: string): { name: string; hosts: San[] } {
  const i = spec.indexOf("=");
  if (i <= 0 || i === spec.length - 1) throw new UsageError(`invalid --member "${spec}": want NAME=HOST[,HOST...]`);
  const name = check(NameSchema("member name"), spec.slice(0, i));
  return { name, hosts: parseHosts([spec.slice(i + 1)]) };
}
