// Timeouts of HTTP/1.1 connections on the client port, for either implementation (the port's
// own engine, src/api/http1, or node:http): a request's headers must arrive within the
// read-header timeout of its first octet (slow-header clients, "slowloris"), and a kept-alive
// connection with no request in flight is closed after the idle timeout; both close silently,
// as Go's server does on a read timeout. A request being served (a gateway watch, say) is
// never timed out. The connection gate learns each connection's state from here.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { H2Clock } from "../h2/index.ts";
import type { ConnectionGate, GateEntry } from "./connection-gate.ts";

export interface Http1Timeouts {
  readonly readHeaderTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

interface Session {
  timer: unknown;
  /** What the armed timer waits for. */
  phase: "headers" | "idle" | "none";
  inFlight: number;
  readonly entry: GateEntry | null;
}

export class Http1Sessions {
  private readonly sessions = new Map<Socket, Session>();

  constructor(
    private readonly t: Http1Timeouts,
    private readonly clock: H2Clock,
    private readonly gate: ConnectionGate,
  ) {}

  /**
   * Starts tracking a connection handed to the HTTP/1.1 server. `deadline`: when its first
   * request's headers are due (the time already spent sniffing counts).
   */
  attach(sock: Socket, entry: GateEntry | null, deadline: number): void {
    const s: Session = { timer: undefined, phase: "none", inFlight: 0, entry };
    this.sessions.set(sock, s);
    this.arm(sock, s, deadline - this.clock.now(), "headers");
    sock.on("data", () => {
      // The first octets of a new request on an idle connection: its headers are now due.
      if (s.inFlight === 0 && s.phase !== "headers") this.arm(sock, s, this.t.readHeaderTimeoutMs, "headers");
    });
    sock.once("close", () => {
      this.disarm(s);
      this.sessions.delete(sock);
    });
  }

  /** The connection was upgraded (a gateway websocket): it is in use until it closes, no timeouts. */
  upgraded(sock: Socket): void {
    const s = this.sessions.get(sock);
    if (s === undefined) return;
    s.inFlight++;
    this.disarm(s);
    if (s.entry !== null) this.gate.set(s.entry, "busy");
  }

  /** A request's headers arrived on node:http (the server's 'request' event). */
  request(req: IncomingMessage, res: ServerResponse): void {
    const finished = this.began(req.socket as Socket);
    res.once("finish", finished);
    res.once("close", finished);
  }

  /** A request's headers arrived on `sock`; the function returned is called once it is answered. */
  began(sock: Socket): () => void {
    const s = this.sessions.get(sock);
    if (s === undefined) return () => {};
    s.inFlight++;
    this.disarm(s);
    if (s.entry !== null) this.gate.set(s.entry, "busy");
    let done = false;
    const finished = () => {
      if (done) return;
      done = true;
      s.inFlight--;
      if (s.inFlight > 0 || sock.destroyed) return;
      if (s.entry !== null) this.gate.set(s.entry, "idle");
      this.arm(sock, s, this.t.idleTimeoutMs, "idle");
    };
    return finished;
  }

  private arm(sock: Socket, s: Session, ms: number, phase: "headers" | "idle"): void {
    this.disarm(s);
    if (ms <= 0) {
      sock.destroy();
      return;
    }
    s.phase = phase;
    s.timer = this.clock.setTimeout(() => {
      s.timer = undefined;
      s.phase = "none";
      if (s.inFlight === 0) sock.destroy();
    }, ms);
  }

  private disarm(s: Session): void {
    if (s.timer !== undefined) this.clock.clearTimeout(s.timer);
    s.timer = undefined;
    s.phase = "none";
  }
}
