// Scripted endpoints for the client library's unit tests: the client dials these instead of
// real connections (ClientConfig.dial). Each endpoint answers unary calls with a handler and
// hands every stream it opens to the test, which plays the server's side.
import { type DescMessage, fromBinary, type MessageShape, toBinary, create, type MessageInitShape } from "@bufbuild/protobuf";
import { type ChannelLike, ClientError, type Endpoint, type GrpcStream, type Metadata } from "../../src/client/index.ts";
import { Code } from "../../src/rpctypes/index.ts";

export type UnaryHandler = (path: string, req: Uint8Array, md: Metadata) => Uint8Array | Promise<Uint8Array>;

/** The server's side of one stream the client opened. */
export class FakeStream implements GrpcStream {
  onmessage: ((msg: Uint8Array) => void) | null = null;
  onend: ((error: ClientError | undefined) => void) | null = null;
  readonly sent: Uint8Array[] = [];
  ended = false;
  private waiters: Array<() => void> = [];

  constructor(
    readonly path: string,
    readonly md: Metadata,
  ) {}

  send(msg: Uint8Array): void {
    this.sent.push(msg);
    for (const w of this.waiters.splice(0)) w();
  }
  end(): void {}
  cancel(): void {
    this.finish(new ClientError(Code.Canceled, "context canceled", "context"));
  }

  /** Waits until the client has sent at least n messages; returns the nth decoded. */
  async request<D extends DescMessage>(schema: D, n: number): Promise<MessageShape<D>> {
    while (this.sent.length < n) await new Promise<void>((r) => this.waiters.push(r));
    return fromBinary(schema, this.sent[n - 1]!);
  }

  reply<D extends DescMessage>(schema: D, init: MessageInitShape<D>): void {
    queueMicrotask(() => this.onmessage?.(toBinary(schema, create(schema, init))));
  }

  /** Ends the stream as the server would (undefined: status OK). */
  finish(err: ClientError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    queueMicrotask(() => this.onend?.(err));
  }
}

export class FakeEndpoint implements ChannelLike {
  connected = false;
  /** Rejects every dial (as a refused connection). */
  down = false;
  dials = 0;
  readonly calls: { path: string; md: Metadata }[] = [];
  readonly streams: FakeStream[] = [];
  private streamWaiters: Array<() => void> = [];

  constructor(
    readonly endpoint: Endpoint,
    public unaryHandler: UnaryHandler = () => {
      throw new ClientError(Code.Unimplemented, "not scripted");
    },
  ) {}

  async connect(_deadline: number): Promise<unknown> {
    this.dials++;
    if (this.down) {
      const e = new ClientError(Code.Unavailable, `connection error: desc = "transport: Error while dialing dial tcp ${this.endpoint.authority}: connect: connection refused"`);
      e.notSent = true;
      throw e;
    }
    this.connected = true;
    return {};
  }

  async unary(path: string, req: Uint8Array, md: Metadata, deadline: number): Promise<Uint8Array> {
    await this.connect(deadline);
    this.calls.push({ path, md: { ...md } });
    return this.unaryHandler(path, req, md);
  }

  async stream(path: string, md: Metadata, deadline: number): Promise<GrpcStream> {
    await this.connect(deadline);
    const s = new FakeStream(path, { ...md });
    this.streams.push(s);
    for (const w of this.streamWaiters.splice(0)) w();
    return s;
  }

  /** Waits for the client's nth stream on this endpoint. */
  async nthStream(n: number): Promise<FakeStream> {
    while (this.streams.length < n) await new Promise<void>((r) => this.streamWaiters.push(r));
    return this.streams[n - 1]!;
  }

  close(): void {
    this.connected = false;
  }
}

/** Encodes a unary answer. */
export function answer<D extends DescMessage>(schema: D, init: MessageInitShape<D>): Uint8Array {
  return toBinary(schema, create(schema, init));
}
