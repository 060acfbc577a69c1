import { expect, test } from "bun:test";
import { decodeConfChange, EntryType, MemoryStorage, RawNode, Role, StepLocalMsgError, MessageType, msg } from "../../src/raft/index.ts";

test("bootstrap a single-member cluster, elect, propose, apply", () => {
  const storage = new MemoryStorage();
  const node = new RawNode({ id: 1n, electionTick: 10, heartbeatTick: 1, storage, rng: () => 0.5 });
  node.bootstrap([{ id: 1n }]);
  const applied: string[] = [];
  const drain = () => {
    while (node.hasReady()) {
      const rd = node.ready();
      storage.append(rd.entries);
      if (rd.hardState) storage.setHardState(rd.hardState);
      expect(rd.messages).toEqual([]); // nobody to talk to
      for (const e of rd.committedEntries) {
        if (e.type === EntryType.ConfChange) node.applyConfChange(decodeConfChange(e.data));
        else if (e.data.length > 0) applied.push(new TextDecoder().decode(e.data));
      }
      node.advance(rd);
    }
  };
  drain();
  expect(node.status().config.voters).toEqual([1n]);
  // Randomized timeout with rng 0.5 is 15 ticks: no election before it.
  for (let i = 0; i < 14; i++) node.tick();
  expect(node.status().role).toBe(Role.Follower);
  node.tick();
  expect(node.status().role).toBe(Role.Leader);
  node.propose(new TextEncoder().encode("x"));
  drain();
  expect(applied).toEqual(["x"]);
  expect(node.status().applied).toBe(storage.lastIndex());
  expect(() => node.step(msg({ type: MessageType.MsgHup }))).toThrow(StepLocalMsgError);
  // ready() twice without advance() is a broken contract.
  node.propose(new TextEncoder().encode("y"));
  node.ready();
  expect(() => node.ready()).toThrow("advance");
});
