// The core's logger is injected; the default discards everything.

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
}

export const discardLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
};
