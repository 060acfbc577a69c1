// What the bootstrap layer needs from a logger (the member's logger satisfies it).
export interface BootstrapLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}
