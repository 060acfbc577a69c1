// Publishing this member's name and client URLs through the log once a leader exists (etcd's
// publish), so every member's table shows them. Apart from server.ts, which only asks for it
// at start, on each tick and when a leader is elected, until it is done.
import type { Logger } from "./logger.ts";
import type { RaftLoop } from "./raft-loop.ts";
import type { RequestInit } from "./request-codec.ts";

export interface MemberPublishDeps {
  memberId: bigint;
  name: string;
  /** This member's advertised client URLs. */
  clientURLs: string[];
  loop: RaftLoop;
  logger: Logger;
  stopped(): boolean;
  propose(init: RequestInit): Promise<unknown>;
}

export class MemberPublisher {
  private done = false;
  private publishing = false;

  constructor(private readonly d: MemberPublishDeps) {}

  /** The member table holds this member's name and client URLs as given. */
  get published(): boolean {
    return this.done;
  }

  /** Proposes this member's name and client URLs once a leader exists (etcd's publish). */
  publish(): void {
    if (this.done || this.publishing || this.d.stopped() || this.d.loop.leader() === 0n) return;
    const cur = this.d.loop.members.get(this.d.memberId);
    if (cur === undefined) return; // not (yet) in the member table: joining, wait for the log
    if (cur.name === this.d.name && sameList(cur.clientURLs, this.d.clientURLs)) {
      this.done = true;
      return;
    }
    this.publishing = true;
    this.d.propose({
      memberAttrs: { ID: this.d.memberId, name: this.d.name, clientURLs: this.d.clientURLs, peerURLs: [...cur.peerURLs], isLearner: cur.isLearner },
    })
      .then(() => {
        this.done = true;
        this.d.logger.info("published local member to cluster through raft", { name: this.d.name });
      })
      .catch((err: unknown) => this.d.logger.warn("failed to publish local member; will retry", { error: String(err) }))
      .finally(() => {
        this.publishing = false;
      });
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
