// The "churn" fault profile: network faults aimed at the windows where Raft safety bugs show.
//
// - Strikes: a leader is cut off from everyone soon after its election (before its entries
//   spread) or at any time; its clock is often slowed, so check-quorum (counted in its own ticks)
//   demotes it late while the others elect and commit and a client keeps reading from it.
// - Rejoins: isolated nodes return one at a time, mostly after the rest moved on to a newer
//   leader, so several terms leave divergent uncommitted tails.
// - The Figure 3.7 pattern (Raft thesis §3.6.2), with random timing:
//     1. an established leader L (with a buddy, in 5-node clusters) is cut off, its clock slowed,
//        and the rest are split so that no one can elect; a pipelining client keeps writing to L,
//        so its log grows a tail of term-t1 entries nobody outside its group has;
//     2. the rest reunite and elect R (term t2); R is cut off at once, its no-op on R alone;
//     3. L's group rejoins; only L (or its buddy) has a log up to date enough to win (term t3);
//        it sends its old tail one entry per round trip: a majority holds the old entries long
//        before the leader's own term-t3 entry;
//     4. a random delay later L's group is cut off again and R rejoins: R's last term t2 beats
//        the t1 tails, so R wins and overwrites them. A leader that committed its old-term
//        entries by counting replicas has applied entries that are now lost.

import type { Rng } from "./prng.ts";
import { chance, intn, pick } from "./prng.ts";

/** What the nemesis sees of and does to the cluster. */
export interface NemesisHost {
  readonly now: number;
  /** The member that is leader at the highest term, if any. */
  leader(): { readonly id: bigint; readonly term: number; readonly established: boolean } | undefined;
  /** Members that are running (candidates for a tail group). */
  voters(): bigint[];
  /** Every member, running or not. */
  members(): bigint[];
  /** Node → group; undefined = fully connected. The host drops messages between groups. */
  groups(): Map<bigint, number> | undefined;
  setGroups(g: Map<bigint, number> | undefined): void;
  /** Steps per tick of a node: multiplies its normal clock period (1 = normal). */
  slowClock(id: bigint, factor: number): void;
  /** A client write to this node that does not wait for earlier writes. */
  put(id: bigint): void;
  log(line: string): void;
  count(k: string): void;
}

type Pattern =
  | { readonly phase: "idle" }
  | { readonly phase: "tail"; readonly tail: readonly bigint[]; readonly rest: readonly bigint[]; readonly term: number; readonly grow: number }
  | { readonly phase: "elect"; readonly tail: readonly bigint[]; readonly term: number; readonly until: number }
  | { readonly phase: "rejoin"; readonly tail: readonly bigint[]; readonly rival: bigint; readonly rivalTerm: number; readonly until: number }
  | { readonly phase: "strike"; readonly tail: readonly bigint[]; readonly rival: bigint; readonly at: number }
  | { readonly phase: "settle"; readonly until: number };

export class Nemesis {
  private nextGroup = 2;
  private seen: { id: bigint; term: number; since: number } | undefined;
  private pattern: Pattern = { phase: "idle" };
  private readonly k: {
    strikeWithin: number; strike: number; isolate: number; slow: number; rejoin: number; heal: number; pattern: number;
  };

  constructor(private readonly host: NemesisHost, private readonly rng: Rng) {
    const r = rng;
    this.k = {
      strikeWithin: 2 + intn(r, 30),
      strike: r() * 0.2,
      isolate: r() * 0.01,
      slow: 0.3 + r() * 0.7,
      rejoin: 0.005 + r() * 0.03,
      heal: r() * 0.004,
      // Some seeds mostly run the pattern, others mostly strike at random.
      pattern: chance(r, 0.5) ? 0.005 + r() * 0.03 : 0,
    };
  }

  /** While the pattern runs, other faults (crashes, transfers, membership) would spoil it. */
  get busy(): boolean {
    return this.pattern.phase !== "idle";
  }

  step(): void {
    if (this.pattern.phase !== "idle") {
      this.stepPattern();
      return;
    }
    const leader = this.host.leader();
    if (this.k.pattern > 0 && leader?.established && this.host.groups() === undefined && chance(this.rng, this.k.pattern)) {
      this.startPattern(leader.id, leader.term);
      return;
    }
    this.stepStrikes();
  }

  // ---- random strikes ------------------------------------------------------------------------

  private stepStrikes(): void {
    const r = this.rng;
    const main = this.mainGroup();
    const inMain = (id: bigint) => this.host.groups()?.get(id) === main || this.host.groups() === undefined;
    const leader = this.host.leader();
    if (leader && inMain(leader.id)) {
      if (this.seen?.id !== leader.id || this.seen.term !== leader.term) this.seen = { id: leader.id, term: leader.term, since: this.host.now };
      const fresh = this.host.now - this.seen.since <= this.k.strikeWithin;
      if (chance(r, fresh ? this.k.strike : this.k.isolate)) {
        this.cutOff([leader.id]);
        if (chance(r, this.k.slow)) this.host.slowClock(leader.id, 3 + intn(r, 6));
        this.host.count("isolate-leader");
      }
    }
    const groups = this.host.groups();
    if (groups === undefined) return;
    if (chance(r, this.k.heal)) {
      this.heal();
      return;
    }
    const out = [...groups].filter(([, g]) => g !== main).map(([id]) => id);
    const movedOn = leader !== undefined && inMain(leader.id);
    if (out.length > 0 && chance(r, movedOn ? this.k.rejoin : this.k.rejoin / 5)) this.rejoin([pick(r, out)]);
  }

  // ---- the Figure 3.7 pattern ----------------------------------------------------------------

  private startPattern(leader: bigint, term: number): void {
    const others = this.host.voters().filter((id) => id !== leader);
    const tail = [leader];
    // In a 5-node cluster a buddy shares the tail, so the old leader's group plus one more
    // node is a majority that holds the old entries.
    if (others.length >= 4) tail.push(pick(this.rng, others));
    this.host.log(`t=${this.host.now} pattern: cut off tail group ${tail.join(",")} (leader ${leader}, term ${term})`);
    this.host.count("pattern");
    this.cutOff(tail);
    this.host.slowClock(leader, 3 + intn(this.rng, 6));
    // Split the rest into single nodes: no quorum anywhere while the tail grows.
    const rest = this.host.members().filter((id) => !tail.includes(id));
    for (const id of rest) this.cutOff([id]);
    this.pattern = { phase: "tail", tail, rest, term, grow: this.host.now + 20 + intn(this.rng, 120) };
  }

  private stepPattern(): void {
    const p = this.pattern;
    const now = this.host.now;
    const leader = this.host.leader();
    switch (p.phase) {
      case "tail": {
        // A pipelining client keeps writing to the cut-off leader.
        if (chance(this.rng, 0.3)) this.host.put(p.tail[0]!);
        if (now < p.grow) return;
        this.join(p.rest, 0);
        this.host.log(`t=${now} pattern: the rest (${p.rest.join(",")}) reunite`);
        this.pattern = { phase: "elect", tail: p.tail, term: p.term, until: now + 400 };
        return;
      }
      case "elect": {
        // Wait for the rest to elect a rival; cut it off before its entries spread.
        if (leader && !p.tail.includes(leader.id) && leader.term > p.term) {
          this.cutOff([leader.id]);
          this.join(p.tail, 0);
          this.host.log(`t=${now} pattern: rival ${leader.id} (term ${leader.term}) cut off, tail group back`);
          this.pattern = { phase: "rejoin", tail: p.tail, rival: leader.id, rivalTerm: leader.term, until: now + 400 };
        } else if (now >= p.until) this.endPattern("no rival elected");
        return;
      }
      case "rejoin": {
        // Wait for a tail holder to lead again; strike it a random number of steps later.
        if (leader && leader.term > p.rivalTerm) {
          if (!p.tail.includes(leader.id)) {
            this.endPattern(`leader ${leader.id} holds no tail`);
            return;
          }
          const at = now + 1 + intn(this.rng, 40);
          this.host.log(`t=${now} pattern: tail holder ${leader.id} leads at term ${leader.term}; strike at t=${at}`);
          this.pattern = { phase: "strike", tail: p.tail, rival: p.rival, at };
        } else if (now >= p.until) this.endPattern("tail group did not lead");
        return;
      }
      case "strike": {
        if (now < p.at) return;
        this.cutOff(p.tail);
        this.join([p.rival], 0);
        this.host.log(`t=${now} pattern: tail group cut off, rival ${p.rival} back`);
        this.host.count("pattern-struck");
        this.pattern = { phase: "settle", until: now + 100 + intn(this.rng, 200) };
        return;
      }
      case "settle":
        if (now >= p.until) this.endPattern("done");
        return;
      case "idle":
        return;
    }
  }

  private endPattern(why: string): void {
    this.host.log(`t=${this.host.now} pattern: end (${why})`);
    this.pattern = { phase: "idle" };
    this.heal();
  }

  // ---- groups --------------------------------------------------------------------------------

  /** The largest group: where the cluster can make progress. */
  private mainGroup(): number | undefined {
    const groups = this.host.groups();
    if (groups === undefined) return undefined;
    const sizes = new Map<number, number>();
    for (const g of groups.values()) sizes.set(g, (sizes.get(g) ?? 0) + 1);
    return [...sizes].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0];
  }

  /** Puts `ids` together in a new group, cut off from everyone else. */
  private cutOff(ids: readonly bigint[]): void {
    const groups = this.host.groups() ?? new Map(this.host.members().map((id) => [id, 0]));
    const g = this.nextGroup++;
    for (const id of ids) groups.set(id, g);
    this.host.setGroups(groups);
    this.host.log(`t=${this.host.now} cut off ${ids.join(",")}`);
  }

  private rejoin(ids: readonly bigint[]): void {
    const main = this.mainGroup();
    if (main !== undefined) this.join(ids, main);
  }

  /** Moves `ids` into `group` (the pattern keeps its majority side in group 0). */
  private join(ids: readonly bigint[], group: number): void {
    const groups = this.host.groups();
    if (groups === undefined) return;
    for (const id of ids) {
      groups.set(id, group);
      this.host.slowClock(id, 1);
    }
    this.host.log(`t=${this.host.now} join ${ids.join(",")} to group ${group}`);
    this.host.count("rejoin");
  }

  private heal(): void {
    this.host.setGroups(undefined);
    for (const id of this.host.members()) this.host.slowClock(id, 1);
    this.host.log(`t=${this.host.now} heal`);
  }
}
