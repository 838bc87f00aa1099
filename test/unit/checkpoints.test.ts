import { describe, expect, it } from "vitest";
import { FakeClock } from "../../runtime/index.ts";
import { CellDirectory, Checkpoints, StateStore, type ActorCell, type CheckpointBucket, type NodeCore } from "../../runtime/internal.ts";
import { MemoryKv } from "../support/memory-kv.ts";

/** Just what Checkpoints reads of a cell and of the node. */
const setup = () => {
  const store = new StateStore(new MemoryKv() as unknown as CheckpointBucket);
  const directory = new CellDirectory();
  const core = { id: "n1", clock: new FakeClock(1_000) } as unknown as NodeCore;
  const checkpoints = new Checkpoints(core, store, directory, async () => undefined);
  const cell = { id: "book", passivated: false, instance: { state: { orders: [] as number[] } } } as unknown as ActorCell;
  directory.cells.set("book", cell);
  return { store, checkpoints, cell, state: (cell.instance as unknown as { state: { orders: number[] } }).state };
};

describe("Checkpoints", () => {
  it("saves the state as it was when save() was called, with exactly the durable messages it includes", async () => {
    const { store, checkpoints, cell, state } = setup();
    state.orders.push(1);
    checkpoints.markProcessed("book", { id: "m1", seq: 1 });
    const first = checkpoints.save(cell);
    // the next message's async handler changes the state before the first save is written: were that
    // change saved under m1's marks only, a crash would apply m2 twice (redelivered, not recognised)
    state.orders.push(2);
    await first;
    const saved = await store.load("book");
    expect(saved?.state).toEqual({ orders: [1] });
    expect(saved?.processed).toEqual([{ id: "m1", seq: 1 }]);

    checkpoints.markProcessed("book", { id: "m2", seq: 2 });
    await checkpoints.save(cell);
    const next = await store.load("book");
    expect(next?.state).toEqual({ orders: [1, 2] });
    expect(next?.processed.map((m) => m.id)).toEqual(["m1", "m2"]);
  });

  it("drops dedup marks only at or below the consumer's acknowledgement floor, and still knows those by the floor", async () => {
    const { store, checkpoints, cell } = setup();
    for (let seq = 1; seq <= 5; seq++) checkpoints.markProcessed("book", { id: `m${seq}`, seq });
    checkpoints.pruneProcessed("book", 3);
    expect(checkpoints.processedCount("book")).toBe(2);
    expect(checkpoints.includes("book", "m4", 4)).toBe(true);
    // a copy JetStream sent before m3's ack landed arrives after its mark was pruned: the floor knows it
    expect(checkpoints.includes("book", "m3", 3)).toBe(true);
    expect(checkpoints.includes("book", "m6", 6)).toBe(false);
    // a lower floor seen later never lowers it
    checkpoints.pruneProcessed("book", 2);
    expect(checkpoints.includes("book", "m3", 3)).toBe(true);
    // the floor is saved with the state: the next owner knows it too
    await checkpoints.save(cell);
    expect((await store.load("book"))?.floor).toBe(3);
  });

  it("refuses to save a copy that was fenced by another node's newer checkpoint", async () => {
    const { store, checkpoints, cell } = setup();
    await checkpoints.adopt("book");
    await store.save("book", { orders: [9] }, "n2", 2_000, { marks: [], floor: 0 }); // another node took it over and saved
    let fenced = "";
    checkpoints.onFenced = (_c, reason) => {
      fenced = reason;
    };
    await expect(checkpoints.save(cell)).rejects.toMatchObject({ code: "ERR_ACTOR_FENCED" });
    expect(fenced).toMatch(/overwritten by another copy/);
  });
});
