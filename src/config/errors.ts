// The one error type of this module. Its message is a single line in etcd's wording, e.g.
// `invalid value "abc" for flag -heartbeat-interval: parse error`; the caller prints it and
// exits with status 1.

export class ConfigError extends Error {
  constructor(message: string) {
    // A multi-line message would break the one-line contract callers print as is.
    super(message.replace(/\s*\n\s*/g, " "));
    this.name = "ConfigError";
  }
}
