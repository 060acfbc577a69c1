// The cluster as the views see it: the member list and each member's Status (through the
// dashboard's member calls, which reach every member's own gateway).
import { api, ApiError, type Json } from "./api.ts";
import { hexId } from "./bytes.ts";

export interface MemberRow {
  id: string; // hex
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
  status?: Json;
  error?: ApiError | Error;
}

export async function listMembers(signal?: AbortSignal): Promise<{ members: MemberRow[]; header: Json }> {
  const r = await api.call("/v3/cluster/member/list", {}, signal);
  const members = ((r.members ?? []) as Json[]).map((m) => ({
    id: hexId(m.ID),
    name: (m.name as string | undefined) ?? "",
    peerURLs: (m.peerURLs ?? []) as string[],
    clientURLs: (m.clientURLs ?? []) as string[],
    isLearner: m.isLearner === true,
  }));
  return { members, header: r.header as Json };
}

/** Status of every member (in parallel); a member that fails keeps its error. */
export async function withStatus(members: MemberRow[], signal?: AbortSignal): Promise<MemberRow[]> {
  return Promise.all(
    members.map(async (m) => {
      if (m.clientURLs.length === 0) return m;
      try {
        return { ...m, status: await api.call(`/ui/api/members/${m.id}/status`, {}, signal) };
      } catch (err) {
        return { ...m, error: err as Error };
      }
    }),
  );
}

/** The leader's hex ID as the members report it ("0" when none answers). */
export function leaderOf(rows: MemberRow[]): string {
  for (const r of rows) if (r.status?.leader !== undefined) return hexId(r.status.leader as string);
  return "0";
}
