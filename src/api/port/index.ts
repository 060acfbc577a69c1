// The client port's connection policy, shared by HTTP/1.1 and HTTP/2: the connection cap,
// HTTP/1.1 timeouts and error answers, and the member-wide output budget.
export { ConnectionGate, type ConnState, type GateEntry } from "./connection-gate.ts";
export { Http1Sessions, type Http1Timeouts } from "./http1-sessions.ts";
export { badRequestAnswer, onClientError } from "./bad-request.ts";
export { OutputBudget, type BudgetMember } from "./output-budget.ts";
export { connectionCap, DEFAULT_PORT_LIMITS, keepaliveFromFlags, RESERVED_FDS, type ClientPortLimits } from "./limits.ts";
export { ThrottledLog } from "./throttled-log.ts";
