// What etcdctl's v2 mode prints: a keys answer as simple, extended or json (printResponseKey),
// and errors as its handleError writes them ("Error:  <err>", a ClusterError's detail after).
import type { ClusterError, V2Node, V2Response } from "../../../src/client/v2/index.ts";
import { jsonString } from "../go-format.ts";
import { err, errln, outln } from "../io.ts";

/** etcdctl v2's exit codes (ctlv2/command/error.go). */
export const V2Exit = {
  Success: 0,
  BadArgs: 1,
  BadConnection: 2,
  BadAuth: 3,
  ServerError: 4,
  ClusterNotHealthy: 5,
} as const;

/** Ends the command with a code once its output is written. */
export class V2Stop extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

export function stop(code: number): never {
  throw new V2Stop(code);
}

/** handleError: "Error:  <err>", a ClusterError's detail, the exit code. */
export function handleError(code: number, e: unknown): never {
  const msg = e instanceof Error ? e.message : String(e);
  errln(`Error:  ${msg}`);
  if ((e as ClusterError).detail !== undefined && typeof (e as ClusterError).detail === "function") errln((e as ClusterError).detail());
  stop(code);
}

/** fmt.Fprintln(os.Stderr, err.Error()); exit 1: how the user, role, auth and member commands fail. */
export function failPlain(e: unknown, code: number = V2Exit.BadArgs): never {
  errln(e instanceof Error ? e.message : String(e));
  stop(code);
}

/** Go's json.Marshal of client.Node. */
export function nodeJson(n: V2Node | null): string {
  if (n === null) return "null";
  let s = `{"key":${jsonString(n.key)}`;
  if (n.dir) s += `,"dir":true`;
  s += `,"value":${jsonString(n.value)}`;
  s += `,"nodes":${n.nodes === null ? "null" : `[${n.nodes.map(nodeJson).join(",")}]`}`;
  s += `,"createdIndex":${n.createdIndex},"modifiedIndex":${n.modifiedIndex}`;
  if (n.expiration !== undefined) s += `,"expiration":${jsonString(n.expiration)}`;
  if (n.ttl !== 0) s += `,"ttl":${n.ttl}`;
  return `${s}}`;
}

export function responseJson(r: V2Response): string {
  return `{"action":${jsonString(r.action)},"node":${nodeJson(r.node)},"prevNode":${nodeJson(r.prevNode)}}`;
}

/** printResponseKey. */
export function printResponseKey(r: V2Response, format: string): void {
  switch (format) {
    case "simple":
      if (r.action !== "delete") outln(r.node?.value ?? "");
      else outln(`PrevNode.Value: ${r.prevNode?.value ?? ""}`);
      return;
    case "extended":
      outln(`Key: ${r.node?.key ?? ""}`);
      outln(`Created-Index: ${r.node?.createdIndex ?? 0}`);
      outln(`Modified-Index: ${r.node?.modifiedIndex ?? 0}`);
      if (r.prevNode !== null) outln(`PrevNode.Value: ${r.prevNode.value}`);
      outln(`TTL: ${r.node?.ttl ?? 0}`);
      outln(`Index: ${r.index}`);
      if (r.action !== "delete") {
        outln("");
        outln(r.node?.value ?? "");
      }
      return;
    case "json":
      outln(responseJson(r));
      return;
    default:
      err(`Unsupported output format: ${format}\n`);
  }
}
