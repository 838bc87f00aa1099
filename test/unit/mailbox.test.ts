import { describe, expect, it } from "vitest";
import { Mailbox } from "../../runtime/internal.ts";
import { hasCode } from "../../protocols/index.ts";

describe("Mailbox", () => {
  it("delivers normal messages in FIFO order", () => {
    const box = new Mailbox<number>({ capacity: 100, priorityCapacity: 4 });
    for (let i = 0; i < 50; i++) box.offer(i);
    const out: number[] = [];
    for (let v = box.take(); v !== undefined; v = box.take()) out.push(v);
    expect(out).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it("hands out every priority message before any normal one", () => {
    const box = new Mailbox<string>({ capacity: 10, priorityCapacity: 10 });
    box.offer("n1");
    box.offer("n2");
    box.offer("p1", "priority");
    box.offer("n3");
    box.offer("p2", "priority");
    expect([box.take(), box.take(), box.take(), box.take(), box.take(), box.take()]).toEqual(["p1", "p2", "n1", "n2", "n3", undefined]);
  });

  it("rejects with ERR_MAILBOX_FULL when the normal lane is at capacity, and accepts again after a take", () => {
    const box = new Mailbox<number>({ capacity: 3, priorityCapacity: 1 });
    box.offer(1);
    box.offer(2);
    box.offer(3);
    let error: unknown;
    try {
      box.offer(4);
    } catch (e) {
      error = e;
    }
    expect(hasCode(error, "ERR_MAILBOX_FULL")).toBe(true);
    expect(box.size).toBe(3);
    expect(box.take()).toBe(1);
    box.offer(4);
    expect(box.drainAll()).toEqual([2, 3, 4]);
  });

  it("bounds the priority lane separately from the normal lane", () => {
    const box = new Mailbox<number>({ capacity: 2, priorityCapacity: 1 });
    box.offer(1, "priority");
    expect(() => box.offer(2, "priority")).toThrow(/priority lane is full/);
    box.offer(3);
    box.offer(4);
    expect(box.size).toBe(3);
  });

  it("keeps FIFO order across ring growth and wrap-around", () => {
    const box = new Mailbox<number>({ capacity: 1000, priorityCapacity: 1 });
    const out: number[] = [];
    let next = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 37; i++) box.offer(next++);
      for (let i = 0; i < 30; i++) out.push(box.take() as number);
    }
    out.push(...box.drainAll());
    expect(out).toEqual(Array.from({ length: next }, (_, i) => i));
  });
});
