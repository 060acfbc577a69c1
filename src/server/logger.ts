// Logging in etcd's two shapes: zap JSON lines or capnslog text lines, on stderr.
// Secrets (passwords, tokens) are never passed to the logger.
export type LogLevel = "debug" | "info" | "warn" | "error" | "panic" | "fatal";
const rank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, panic: 4, fatal: 5 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Changes the least level written (PUT /config/local/log); absent on fixed loggers. */
  setLevel?(level: LogLevel): void;
}

export function createLogger(opts: {
  level: LogLevel;
  format: "zap" | "capnslog";
  now: () => Date;
  write: (line: string) => void;
}): Logger {
  let min = rank[opts.level];
  const capn: Record<string, string> = { debug: "D", info: "I", warn: "W", error: "E" };
  const emit = (level: "debug" | "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => {
    if (rank[level] < min) return;
    const ts = opts.now();
    if (opts.format === "zap") {
      opts.write(JSON.stringify({ level, ts: ts.toISOString(), caller: "conclave", msg, ...fields }) + "\n");
    } else {
      const iso = ts.toISOString().replace("T", " ").replace("Z", "");
      const extra = fields ? " " + Object.entries(fields).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ") : "";
      opts.write(`${iso} ${capn[level]} | etcdserver: ${msg}${extra}\n`);
    }
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    setLevel: (level) => {
      min = rank[level];
    },
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
