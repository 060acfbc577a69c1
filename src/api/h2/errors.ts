// Protocol errors raised while processing frames (RFC 9113 §5.4).

/** Ends the connection with GOAWAY(code). */
export class ConnectionError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** Ends one stream with RST_STREAM(code); the connection continues. */
export class StreamError extends Error {
  constructor(readonly code: number, readonly streamId: number, message: string) {
    super(message);
  }
}
