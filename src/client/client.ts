// The client: several endpoints with failover, retries of calls that are safe to repeat,
// authentication tokens, and the typed calls of etcd's v3 API. clientv3 (etcd 3.4) is the model:
// - a call that never reached a server is sent again to the next endpoint until its deadline;
// - a read-only call answered Unavailable (no leader, server stopping) is retried likewise;
// - with credentials, a token is fetched before the first call and fetched again when a call
//   fails with "invalid auth token", "revision of auth store is old" or "user name is empty".
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { DescMethodStreaming, DescMethodUnary } from "@bufbuild/protobuf";
import { Auth, AuthenticateRequestSchema, type AuthenticateResponse } from "../gen/rpc_pb.ts";
import { Channel, type ChannelOptions, type GrpcStream, type Metadata, type TlsSettings } from "./channel.ts";
import { type Endpoint, parseEndpoint } from "./endpoint.ts";
import { Code, Errors } from "../rpctypes/index.ts";
import { ClientError, deadlineExceeded } from "./errors.ts";

export interface ClientConfig {
  endpoints: string[];
  dialTimeoutMs?: number;
  keepAliveTimeMs?: number;
  keepAliveTimeoutMs?: number;
  /** TLS for endpoints without a scheme (undefined = cleartext). */
  tls?: TlsSettings;
  username?: string;
  password?: string;
  /** Opens the connection to one endpoint (tests inject a scripted one); default: a real Channel. */
  dial?: (endpoint: Endpoint, options: ChannelOptions) => ChannelLike;
}

/** What the client needs of one endpoint's connection (Channel's surface). */
export interface ChannelLike {
  readonly endpoint: Endpoint;
  readonly connected: boolean;
  /** Rejects with a notSent ClientError when the endpoint cannot be reached. */
  connect(deadline: number): Promise<unknown>;
  unary(path: string, req: Uint8Array, md: Metadata, deadline: number): Promise<Uint8Array>;
  stream(path: string, md: Metadata, deadline: number): Promise<GrpcStream>;
  close(): void;
}

/** The failures after which clientv3 fetches a new token (with credentials) and tries again. */
export function isTokenError(msg: string): boolean {
  return msg === Errors.invalidAuthToken.message || msg === Errors.authOldRevision.message || msg === Errors.userEmpty.message;
}

/** A watch create refused for its token: etcd puts the gRPC error text in cancel_reason. */
export function isTokenCancelReason(reason: string): boolean {
  return reason.endsWith(Errors.invalidAuthToken.message) || reason.endsWith(Errors.authOldRevision.message);
}

export interface CallOptions {
  /** Absolute time (ms since epoch) by which the call must finish. */
  deadline: number;
  /** Safe to send again after Unavailable (reads, lists, status). */
  idempotent?: boolean;
  /** Send only to this endpoint (as given in the config), like clientv3's Maintenance calls. */
  endpoint?: string;
  /** Metadata hasleader=true: the server refuses when it has no leader (etcd's WithRequireLeader). */
  requireLeader?: boolean;
}

/** Wait between attempts after a failure (clientv3's 25 ms retry backoff, grown for dial failures). */
const RETRY_WAIT_MS = 25;
const REDIAL_WAIT_MS = 100;

export class Client {
  readonly channels: ChannelLike[];
  private pinned = 0;
  private token: string | undefined;
  private closed = false;
  private readonly channelOptions: ChannelOptions;
  /** Channels to endpoints outside the configured list (endpoint status --cluster). */
  private readonly extra = new Map<string, ChannelLike>();
  private readonly dial: (endpoint: Endpoint, options: ChannelOptions) => ChannelLike;
  private authenticating: Promise<void> | undefined;
  /** Tokens fetched so far (the first at open, one more per refresh). */
  tokensFetched = 0;

  constructor(readonly config: ClientConfig) {
    if (config.endpoints.length === 0) throw new ClientError(Code.InvalidArgument, "etcdclient: no available endpoints", "context");
    const opts = (this.channelOptions = {
      tls: config.tls,
      dialTimeoutMs: config.dialTimeoutMs ?? 2000,
      keepAliveTimeMs: config.keepAliveTimeMs ?? 0,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs ?? 6000,
    });
    this.dial = config.dial ?? ((ep, o) => new Channel(ep, o));
    this.channels = config.endpoints.map((e) => this.dial(parseEndpoint(e), opts));
  }

  get hasCredentials(): boolean {
    return this.config.username !== undefined && this.config.username !== "";
  }

  /**
   * clientv3.New: with credentials, dial and authenticate now (within the dial timeout), so
   * bad credentials fail the client's creation. Without, nothing happens until the first call.
   */
  async open(): Promise<void> {
    if (!this.hasCredentials) return;
    await this.authenticate(Date.now() + (this.config.dialTimeoutMs ?? 2000));
  }

  /**
   * A new token after a token error; concurrent callers (several streams failing at once) share
   * one Authenticate.
   */
  refreshToken(deadline: number): Promise<void> {
    this.authenticating ??= this.authenticate(deadline).finally(() => {
      this.authenticating = undefined;
    });
    return this.authenticating;
  }

  /** Fetches a token; "authentication is not enabled" leaves the client without one. */
  async authenticate(deadline: number): Promise<void> {
    const req = toBinary(AuthenticateRequestSchema, create(AuthenticateRequestSchema, { name: this.config.username ?? "", password: this.config.password ?? "" }));
    const path = methodPath(Auth.method.authenticate);
    for (;;) {
      const ch = await this.pick(deadline, undefined);
      try {
        const out = fromBinary(Auth.method.authenticate.output, await ch.unary(path, req, {}, deadline)) as AuthenticateResponse;
        this.token = out.token;
        this.tokensFetched++;
        return;
      } catch (e) {
        if (e instanceof ClientError && e.is(Errors.authNotEnabled)) {
          this.token = undefined;
          return;
        }
        if (e instanceof ClientError && (e.notSent || e.code === Code.Unavailable)) {
          this.markFailed(ch);
          await this.wait(deadline, REDIAL_WAIT_MS);
          continue;
        }
        throw e;
      }
    }
  }

  private metadata(requireLeader: boolean | undefined): Metadata {
    const md: Metadata = {};
    if (this.token !== undefined) md.token = this.token;
    if (requireLeader) md.hasleader = "true";
    return md;
  }

  /** The endpoint to use next: the pinned one while it works, else the next that connects. */
  private async pick(deadline: number, only: string | undefined): Promise<ChannelLike> {
    if (only !== undefined) {
      let ch = this.extra.get(only) ?? this.channels.find((c) => c.endpoint.raw === only);
      if (ch === undefined) {
        ch = this.dial(parseEndpoint(only), this.channelOptions);
        this.extra.set(only, ch);
      }
      await this.dialOrWait(ch, deadline);
      return ch;
    }
    for (;;) {
      if (this.closed) throw new ClientError(Code.Canceled, "grpc: the client connection is closing", "context");
      // From the pinned endpoint on (a failure moves the pin to the next one): the first that
      // is connected or connects now.
      const n = this.channels.length;
      for (let i = 0; i < n; i++) {
        const idx = (this.pinned + i) % n;
        const ch = this.channels[idx]!;
        if (ch.connected) {
          this.pinned = idx;
          return ch;
        }
        if (Date.now() >= deadline) throw deadlineExceeded();
        try {
          await ch.connect(deadline);
          this.pinned = idx;
          return ch;
        } catch (e) {
          if (!(e instanceof ClientError) || !e.notSent) throw e;
          this.lastDialError = e;
        }
      }
      await this.wait(deadline, REDIAL_WAIT_MS);
    }
  }

  /** The most recent dial failure (for hints when a call times out). */
  lastDialError: ClientError | undefined;

  private async dialOrWait(ch: ChannelLike, deadline: number): Promise<void> {
    for (;;) {
      if (Date.now() >= deadline) throw deadlineExceeded();
      try {
        await ch.connect(deadline);
        return;
      } catch (e) {
        if (!(e instanceof ClientError) || !e.notSent) throw e;
        this.lastDialError = e;
        await this.wait(deadline, REDIAL_WAIT_MS);
      }
    }
  }

  private markFailed(ch: ChannelLike): void {
    const i = this.channels.indexOf(ch);
    if (i >= 0 && i === this.pinned) this.pinned = (i + 1) % this.channels.length;
  }

  private async wait(deadline: number, ms: number): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) throw deadlineExceeded();
    await new Promise((r) => setTimeout(r, Math.min(ms, left)));
    if (Date.now() >= deadline) throw deadlineExceeded();
  }

  /** A unary call with clientv3's retry, failover and token refresh. */
  async call<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    init: MessageInitShape<I>,
    opts: CallOptions,
  ): Promise<MessageShape<O>> {
    const req = toBinary(method.input, create(method.input, init));
    const path = methodPath(method);
    let reauthed = false;
    for (;;) {
      const ch = await this.pick(opts.deadline, opts.endpoint);
      try {
        const out = await ch.unary(path, req, this.metadata(opts.requireLeader), opts.deadline);
        return fromBinary(method.output, out);
      } catch (e) {
        if (!(e instanceof ClientError) || e.kind === "context") throw e;
        if (!reauthed && this.hasCredentials && isTokenError(e.message)) {
          reauthed = true;
          await this.refreshToken(opts.deadline);
          continue;
        }
        if (e.notSent || (opts.idempotent && e.code === Code.Unavailable)) {
          this.lastDialError = e;
          this.markFailed(ch);
          if (opts.endpoint === undefined || e.notSent) {
            await this.wait(opts.deadline, RETRY_WAIT_MS);
            continue;
          }
        }
        throw e;
      }
    }
  }

  /** Opens a stream (watch, keep-alive, snapshot, observe) on a working endpoint. */
  async openStream<I extends DescMessage, O extends DescMessage>(
    method: DescMethodStreaming<I, O>,
    opts: CallOptions,
  ): Promise<TypedStream<I, O>> {
    for (;;) {
      const ch = await this.pick(opts.deadline, opts.endpoint);
      try {
        const raw = await ch.stream(methodPath(method), this.metadata(opts.requireLeader), opts.deadline);
        return new TypedStream(method, raw);
      } catch (e) {
        if (e instanceof ClientError && e.notSent) {
          this.markFailed(ch);
          await this.wait(opts.deadline, REDIAL_WAIT_MS);
          continue;
        }
        throw e;
      }
    }
  }

  /** The endpoints as configured. */
  endpoints(): string[] {
    return this.channels.map((c) => c.endpoint.raw);
  }

  close(): void {
    this.closed = true;
    for (const c of this.channels) c.close();
    for (const c of this.extra.values()) c.close();
  }
}

export function methodPath(m: { name: string; parent: { typeName: string } }): string {
  return `/${m.parent.typeName}/${m.name}`;
}

/** A stream whose messages are decoded and encoded with the method's schemas. */
export class TypedStream<I extends DescMessage, O extends DescMessage> {
  onmessage: ((m: MessageShape<O>) => void) | null = null;
  onend: ((e: ClientError | undefined) => void) | null = null;
  ended = false;
  private readonly queue: MessageShape<O>[] = [];
  private waiter: ((v: MessageShape<O> | undefined) => void) | undefined;
  private endError: ClientError | undefined;

  constructor(private readonly method: DescMethodStreaming<I, O>, private readonly raw: GrpcStream) {
    raw.onmessage = (bytes) => {
      let m: MessageShape<O>;
      try {
        m = fromBinary(method.output, bytes);
      } catch (e) {
        raw.cancel();
        this.finish(new ClientError(Code.Internal, `grpc: failed to unmarshal the received message ${(e as Error).message}`));
        return;
      }
      if (this.onmessage) this.onmessage(m);
      else if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(m);
      } else this.queue.push(m);
    };
    raw.onend = (e) => this.finish(e);
  }

  private finish(e: ClientError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.endError = e;
    this.onend?.(e);
    const w = this.waiter;
    this.waiter = undefined;
    w?.(undefined);
  }

  send(init: MessageInitShape<I>): void {
    this.raw.send(toBinary(this.method.input, create(this.method.input, init)));
  }

  end(): void {
    this.raw.end();
  }

  cancel(): void {
    this.raw.cancel();
  }

  /** The next message, or undefined once the stream has ended (then `error` says why). */
  next(): Promise<MessageShape<O> | undefined> {
    const m = this.queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  get error(): ClientError | undefined {
    return this.endError;
  }
}
