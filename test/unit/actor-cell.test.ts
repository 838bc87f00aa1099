import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ActorCell, Mailbox, type CellHost, type Delivery, type ReplyOutcome } from "../../runtime/internal.ts";
import { TetherError, hasCode } from "../../protocols/index.ts";

class Echo {
  static readonly protocol = z.unknown();
  handle(): unknown {
    return undefined;
  }
}

const delivery = (id: string, overrides: Partial<Delivery> = {}): Delivery => ({
  body: id,
  messageType: undefined,
  id,
  from: undefined,
  expectsReply: true,
  replyTo: undefined,
  trace: undefined,
  subject: "test",
  incoming: undefined,
  control: false,
  ...overrides,
});

/** A promise whose settlement the test controls. */
const deferred = <T = unknown>() => {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

/** Lets queued microtasks (the cell's loop, promise callbacks) run; no timers involved. */
const flush = async (ticks = 20): Promise<void> => {
  for (let i = 0; i < ticks; i++) await Promise.resolve();
};

/** Lets one round of setImmediate callbacks run (the cell yields to I/O with setImmediate). */
const nextImmediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A CellHost that records what the cell asks of it; `handler` decides what `invoke` returns. */
class FakeHost implements CellHost {
  handler: (d: Delivery, cell: ActorCell) => unknown = () => "ok";
  reviver: (cell: ActorCell) => Promise<void> = async (cell) => {
    cell.passivated = false;
  };
  readonly log: string[] = [];
  readonly outcomes = new Map<string, ReplyOutcome>();
  readonly failures: { id: string; error: unknown }[] = [];
  idle = 0;
  inFlight = 0;
  maxInFlight = 0;

  revive(cell: ActorCell): Promise<void> {
    this.log.push("revive");
    return this.reviver(cell);
  }
  invoke(cell: ActorCell, d: Delivery): unknown {
    this.log.push(`invoke:${d.id}`);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return this.handler(d, cell);
  }
  settle(_cell: ActorCell, d: Delivery, outcome: ReplyOutcome): void {
    this.inFlight--;
    this.log.push(`settle:${d.id}:${outcome.ok ? "ok" : outcome.error.code}`);
    this.outcomes.set(d.id, outcome);
  }
  onFailure(_cell: ActorCell, d: Delivery, error: unknown): void {
    this.failures.push({ id: d.id, error });
  }
  onIdle(): void {
    this.idle++;
  }
}

const newCell = (host: CellHost, capacity = 1_000, priorityCapacity = 10): ActorCell => {
  const cell = new ActorCell("worker", Echo, new Echo(), new Mailbox<Delivery>({ capacity, priorityCapacity }), host);
  cell.state = "running";
  return cell;
};

const errorOf = (outcome: ReplyOutcome | undefined): TetherError => {
  if (outcome === undefined || outcome.ok) throw new Error(`expected an error outcome, got ${JSON.stringify(outcome)}`);
  return outcome.error;
};

describe("ActorCell", () => {
  it("hands messages to the actor one at a time, in order", async () => {
    const host = new FakeHost();
    const pending = new Map<string, ReturnType<typeof deferred>>();
    host.handler = (d) => {
      const p = deferred();
      pending.set(d.id, p);
      return p.promise;
    };
    const cell = newCell(host);
    for (const id of ["m1", "m2", "m3"]) cell.enqueue(delivery(id), "normal");
    await flush();
    expect(host.log).toEqual(["invoke:m1"]);
    pending.get("m1")?.resolve("r1");
    await flush();
    expect(host.log).toEqual(["invoke:m1", "settle:m1:ok", "invoke:m2"]);
    pending.get("m2")?.resolve("r2");
    await flush();
    pending.get("m3")?.resolve("r3");
    await flush();
    expect(host.log).toEqual(["invoke:m1", "settle:m1:ok", "invoke:m2", "settle:m2:ok", "invoke:m3", "settle:m3:ok"]);
    expect(host.maxInFlight).toBe(1);
    expect(host.outcomes.get("m2")).toEqual({ ok: true, value: "r2" });
    expect(cell.handled).toBe(3);
  });

  it("never runs a handler inside the sender's call stack", async () => {
    const host = new FakeHost();
    const cell = newCell(host);
    cell.enqueue(delivery("m1"), "normal");
    expect(host.log).toEqual([]);
    await flush();
    expect(host.log).toEqual(["invoke:m1", "settle:m1:ok"]);
  });

  it("lets a priority message overtake the normal messages already waiting", async () => {
    const host = new FakeHost();
    const first = deferred();
    host.handler = (d) => (d.id === "n1" ? first.promise : "ok");
    const cell = newCell(host);
    cell.enqueue(delivery("n1"), "normal");
    await flush();
    cell.enqueue(delivery("n2"), "normal");
    cell.enqueue(delivery("n3"), "normal");
    cell.enqueue(delivery("p1"), "priority");
    first.resolve(undefined);
    await flush();
    expect(host.log.filter((l) => l.startsWith("invoke"))).toEqual(["invoke:n1", "invoke:p1", "invoke:n2", "invoke:n3"]);
  });

  it("drains synchronous handlers in batches of 256 without waiting, then yields to I/O before the next batch", async () => {
    const host = new FakeHost();
    const cell = newCell(host);
    for (let i = 0; i < 600; i++) cell.enqueue(delivery(`m${i}`), "normal");
    await flush();
    expect(cell.handled).toBe(256);
    expect(host.outcomes.size).toBe(256); // each reply settled as its handler returned, in the same run
    expect(host.idle).toBe(0);
    await nextImmediate();
    expect(cell.handled).toBe(512);
    await nextImmediate();
    expect(cell.handled).toBe(600);
    expect(host.idle).toBe(1);
    expect(cell.busy).toBe(false);
  });

  it("turns a thrown handler into an error outcome and a failure report, and goes on with the next message", async () => {
    const host = new FakeHost();
    const boom = new Error("boom");
    host.handler = (d) => {
      if (d.id === "bad") throw boom;
      return `done ${d.id}`;
    };
    const cell = newCell(host);
    cell.enqueue(delivery("bad"), "normal");
    cell.enqueue(delivery("good"), "normal");
    await flush();
    const error = errorOf(host.outcomes.get("bad"));
    expect(error.code).toBe("ERR_ACTOR_HANDLER_FAILED");
    expect(error.message).toContain("boom");
    expect(error.cause).toBe(boom);
    expect(error.details).toMatchObject({ actorId: "worker", error: "boom" });
    expect(host.failures).toEqual([{ id: "bad", error: boom }]);
    expect(host.outcomes.get("good")).toEqual({ ok: true, value: "done good" });
  });

  it("passes a rejected handler's TetherError through unchanged, and goes on with the next message", async () => {
    const host = new FakeHost();
    const refused = new TetherError("ERR_ACTOR_NOT_FOUND", "gone");
    host.handler = (d) => (d.id === "bad" ? Promise.reject(refused) : Promise.resolve("fine"));
    const cell = newCell(host);
    cell.enqueue(delivery("bad"), "normal");
    cell.enqueue(delivery("good"), "normal");
    await flush();
    expect(errorOf(host.outcomes.get("bad"))).toBe(refused);
    expect(host.failures).toEqual([{ id: "bad", error: refused }]);
    expect(host.outcomes.get("good")).toEqual({ ok: true, value: "fine" });
  });

  it("reports a thrown non-Error value as ERR_ACTOR_HANDLER_FAILED with its text", async () => {
    const host = new FakeHost();
    host.handler = () => {
      throw "plain string";
    };
    const cell = newCell(host);
    cell.enqueue(delivery("m1"), "normal");
    await flush();
    const error = errorOf(host.outcomes.get("m1"));
    expect(error.code).toBe("ERR_ACTOR_HANDLER_FAILED");
    expect(error.message).toContain("plain string");
  });

  it("aborts ctx.signal of the handler in flight and reports ERR_HANDLER_ABORTED", async () => {
    const host = new FakeHost();
    const signals: AbortSignal[] = [];
    host.handler = (d, cell) => {
      const signal = cell.signal();
      signals.push(signal);
      if (d.id !== "slow") return "quick";
      return new Promise((_resolve, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
    };
    const cell = newCell(host);
    cell.enqueue(delivery("slow"), "normal");
    cell.enqueue(delivery("next"), "normal");
    await flush();
    expect(signals[0]?.aborted).toBe(false);
    const reason = new TetherError("ERR_ACTOR_STOPPED", "operator stop");
    cell.abortCurrent(reason);
    await flush();
    expect(signals[0]?.aborted).toBe(true);
    expect(signals[0]?.reason).toBe(reason);
    const error = errorOf(host.outcomes.get("slow"));
    expect(error.code).toBe("ERR_HANDLER_ABORTED");
    expect(error.message).toContain("operator stop");
    expect(error.cause).toBe(reason);
    expect(host.failures.map((f) => f.id)).toEqual(["slow"]);
    // the next message gets a fresh signal and a normal outcome
    expect(signals[1]?.aborted).toBe(false);
    expect(host.outcomes.get("next")).toEqual({ ok: true, value: "quick" });
  });

  it("hands an already-aborted signal to a handler that reads ctx.signal only after the abort", async () => {
    const host = new FakeHost();
    const gate = deferred();
    let seen: AbortSignal | undefined;
    host.handler = async (_d, cell) => {
      await gate.promise;
      seen = cell.signal();
      seen.throwIfAborted();
    };
    const cell = newCell(host);
    cell.enqueue(delivery("m1"), "normal");
    await flush();
    cell.abortCurrent(new TetherError("ERR_ACTOR_STOPPED", "stop"));
    gate.resolve(undefined);
    await flush();
    expect(seen?.aborted).toBe(true);
    expect(errorOf(host.outcomes.get("m1")).code).toBe("ERR_HANDLER_ABORTED");
  });

  it("revives a passivated actor before handing it the next message", async () => {
    const host = new FakeHost();
    const revived = deferred<void>();
    host.reviver = async (cell) => {
      await revived.promise;
      cell.passivated = false;
    };
    const cell = newCell(host);
    cell.passivated = true;
    cell.enqueue(delivery("m1"), "normal");
    cell.enqueue(delivery("m2"), "normal");
    await flush();
    expect(host.log).toEqual(["revive"]);
    expect(cell.busy).toBe(true);
    revived.resolve();
    await flush();
    expect(host.log).toEqual(["revive", "invoke:m1", "settle:m1:ok", "invoke:m2", "settle:m2:ok"]);
    expect(cell.passivated).toBe(false);
  });

  it("fails the waiting messages when reviving fails, and tries to revive again on the next message", async () => {
    const host = new FakeHost();
    const lost = new TetherError("ERR_REGISTRY_FAILED", "checkpoint unreadable");
    host.reviver = () => Promise.reject(lost);
    const cell = newCell(host);
    cell.passivated = true;
    cell.enqueue(delivery("m1"), "normal");
    cell.enqueue(delivery("m2"), "normal");
    await flush();
    expect(errorOf(host.outcomes.get("m1"))).toBe(lost);
    expect(errorOf(host.outcomes.get("m2"))).toBe(lost);
    expect(host.failures.map((f) => f.id)).toEqual(["m1", "m2"]);
    expect(host.idle).toBe(1);
    expect(cell.busy).toBe(false);
    host.reviver = async (c) => {
      c.passivated = false;
    };
    cell.enqueue(delivery("m3"), "normal");
    await flush();
    expect(host.log.slice(-3)).toEqual(["revive", "invoke:m3", "settle:m3:ok"]);
  });

  it("reports a revive failure as itself, not as an abort left over from an earlier message", async () => {
    const host = new FakeHost();
    host.handler = (_d, cell) => new Promise((_resolve, reject) => cell.signal().addEventListener("abort", () => reject(new Error("aborted"))));
    const cell = newCell(host);
    cell.enqueue(delivery("m1"), "normal");
    await flush();
    cell.abortCurrent(new TetherError("ERR_ACTOR_STOPPED", "stop"));
    await flush();
    expect(errorOf(host.outcomes.get("m1")).code).toBe("ERR_HANDLER_ABORTED");
    // later the actor is passivated, and bringing it back fails
    const lost = new TetherError("ERR_REGISTRY_FAILED", "checkpoint unreadable");
    cell.passivated = true;
    host.reviver = () => Promise.reject(lost);
    cell.enqueue(delivery("m2"), "normal");
    await flush();
    expect(errorOf(host.outcomes.get("m2"))).toBe(lost);
  });

  it("refuses a message with ERR_MAILBOX_FULL, thrown by enqueue, when its lane is full", async () => {
    const host = new FakeHost();
    const first = deferred();
    host.handler = (d) => (d.id === "m1" ? first.promise : "ok");
    const cell = newCell(host, 2, 1);
    cell.enqueue(delivery("m1"), "normal");
    await flush(); // m1 is in flight: it no longer takes mailbox room
    cell.enqueue(delivery("m2"), "normal");
    cell.enqueue(delivery("m3"), "normal");
    let error: unknown;
    try {
      cell.enqueue(delivery("m4"), "normal");
    } catch (e) {
      error = e;
    }
    expect(hasCode(error, "ERR_MAILBOX_FULL")).toBe(true);
    cell.enqueue(delivery("p1"), "priority"); // the priority lane has its own room
    expect(() => cell.enqueue(delivery("p2"), "priority")).toThrow(/priority lane is full/);
    first.resolve(undefined);
    await flush();
    expect(host.log.filter((l) => l.startsWith("invoke"))).toEqual(["invoke:m1", "invoke:p1", "invoke:m2", "invoke:m3"]);
  });

  it("queues messages while starting and handles them once resumed", async () => {
    const host = new FakeHost();
    const cell = newCell(host);
    cell.state = "starting";
    cell.enqueue(delivery("m1"), "normal");
    await flush();
    expect(host.log).toEqual([]);
    expect(cell.busy).toBe(true);
    cell.state = "running";
    cell.resume();
    await flush();
    expect(host.log).toEqual(["invoke:m1", "settle:m1:ok"]);
  });

  it("takes no further message once stopped, leaving the rest queued", async () => {
    const host = new FakeHost();
    const first = deferred();
    host.handler = (d) => (d.id === "m1" ? first.promise : "ok");
    const cell = newCell(host);
    cell.enqueue(delivery("m1"), "normal");
    cell.enqueue(delivery("m2"), "normal");
    await flush();
    cell.state = "stopped";
    first.resolve(undefined);
    await flush();
    expect(host.log).toEqual(["invoke:m1", "settle:m1:ok"]);
    expect(cell.mailbox.size).toBe(1);
    expect(host.idle).toBe(1);
  });

  it("is busy while a handler runs or messages wait, and reports idle once the mailbox is empty", async () => {
    const host = new FakeHost();
    const first = deferred();
    host.handler = (d) => (d.id === "m1" ? first.promise : "ok");
    const cell = newCell(host);
    expect(cell.busy).toBe(false);
    cell.enqueue(delivery("m1"), "normal");
    expect(cell.busy).toBe(true);
    await flush();
    expect(cell.mailbox.size).toBe(0);
    expect(cell.busy).toBe(true); // m1 still running
    expect(host.idle).toBe(0);
    first.resolve(undefined);
    await flush();
    expect(cell.busy).toBe(false);
    expect(host.idle).toBe(1);
  });
});
