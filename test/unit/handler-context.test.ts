import { ROOT_CONTEXT, type Context } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { FakeClock, silentLogger, type ActionCall, type ActorRef, type DeferredReply, type ExecutionScope, type ScopeToken } from "../../runtime/index.ts";
import { ActorCell, HandlerContext, Mailbox, type CellHost, type ContextHost, type Delivery } from "../../runtime/internal.ts";
import { hasCode } from "../../protocols/index.ts";

class Echo {
  static readonly protocol = z.unknown();
  handle(): unknown {
    return undefined;
  }
}

/** The cell is only a holder of id and signal here: nothing drives its loop. */
const idleHost: CellHost = {
  revive: async () => {},
  invoke: () => undefined,
  settle: () => {},
  onFailure: () => {},
  onIdle: () => {},
};

const incoming: ScopeToken = { token: "t", jti: "parent-jti", wid: "wf-1", level: "L1", receipt: undefined };

const delivery = (overrides: Partial<Delivery> = {}): Delivery => ({
  body: { type: "ping" },
  messageType: "ping",
  id: "msg-1",
  from: "caller",
  expectsReply: true,
  replyTo: undefined,
  trace: undefined,
  subject: "test",
  incoming: undefined,
  control: false,
  ...overrides,
});

/** A ContextHost that records what the context asks of it. `act` opens a meter as the node's metering link does. */
class FakeContextHost implements ContextHost {
  readonly nodeId = "node-a";
  readonly network = "net";
  readonly logger = silentLogger;
  readonly clock = new FakeClock(1_000);
  readonly calls: ActionCall[] = [];
  readonly refs: { id: string; from: string; trace: Context | undefined; scope: ExecutionScope }[] = [];
  readonly deferred: Delivery[] = [];
  readonly usage: Record<string, number>[] = [];

  negotiate(self: string, peer: string, protocol: string): Promise<string> {
    return Promise.resolve(`${self}|${peer}|${protocol}`);
  }
  pickProvider(capability: string): Promise<string> {
    return Promise.resolve(`provider-of-${capability}`);
  }
  refFrom(id: string, from: string, trace: Context | undefined, scope: ExecutionScope): ActorRef {
    this.refs.push({ id, from, trace, scope });
    return { id, tell: () => true, ready: async () => undefined, ask: async () => undefined, send: async () => ({ id: "s", duplicate: false }) };
  }
  async act<T>(call: ActionCall, run: () => Promise<T> | T): Promise<T> {
    this.calls.push(call);
    const usage = { messages: 0, bytes: 0, units: {} as Record<string, number> };
    const outer = call.scope.meter;
    call.scope.meter = usage;
    try {
      return await run();
    } finally {
      call.scope.meter = outer;
      this.usage.push(usage.units);
    }
  }
  async checkpoint(): Promise<number> {
    return 7;
  }
  defer(_cell: ActorCell, d: Delivery): DeferredReply {
    this.deferred.push(d);
    return { resolve: () => {}, reject: () => {} };
  }
}

const setup = (overrides: Partial<Delivery> = {}, trace: Context | undefined = undefined) => {
  const host = new FakeContextHost();
  const cell = new ActorCell("worker", Echo, new Echo(), new Mailbox<Delivery>({ capacity: 10, priorityCapacity: 2 }), idleHost);
  const d = delivery(overrides);
  return { host, cell, delivery: d, ctx: new HandlerContext(host, cell, d, trace) };
};

const thrownBy = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
};

describe("HandlerContext", () => {
  it("tells the handler who it is, who sent the message, its id and whether a reply is expected", () => {
    const { ctx, host } = setup();
    expect(ctx.self).toBe("worker");
    expect(ctx.sender).toBe("caller");
    expect(ctx.messageId).toBe("msg-1");
    expect(ctx.expectsReply).toBe(true);
    expect(ctx.nodeId).toBe("node-a");
    expect(ctx.network).toBe("net");
    expect(ctx.clock).toBe(host.clock);
    expect(ctx.log).toBe(silentLogger);
  });

  it("reports a tell from outside any actor as a tell without a sender", () => {
    const { ctx } = setup({ from: undefined, expectsReply: false });
    expect(ctx.sender).toBeUndefined();
    expect(ctx.expectsReply).toBe(false);
  });

  it("gives the cell's abort signal as ctx.signal", () => {
    const { ctx, cell } = setup();
    expect(ctx.signal).toBe(cell.signal());
    expect(ctx.signal.aborted).toBe(false);
  });

  it("refuses deferReply on a tell with ERR_CONTEXT_MISUSE", () => {
    const { ctx, host } = setup({ expectsReply: false });
    expect(hasCode(thrownBy(() => ctx.deferReply()), "ERR_CONTEXT_MISUSE")).toBe(true);
    expect(host.deferred).toEqual([]);
  });

  it("defers the reply to an ask through the host", () => {
    const { ctx, host, delivery: d } = setup();
    ctx.deferReply();
    expect(host.deferred).toEqual([d]);
  });

  it("refuses meter outside ctx.act with ERR_CONTEXT_MISUSE", () => {
    const { ctx } = setup();
    const error = thrownBy(() => ctx.meter("tokens", 5));
    expect(hasCode(error, "ERR_CONTEXT_MISUSE")).toBe(true);
    expect((error as Error).message).toContain("while a ctx.act runs");
  });

  it("accrues metered units to the action in progress, and only to it", async () => {
    const { ctx, host } = setup();
    await ctx.act("summarise", {}, () => {
      ctx.meter("tokens", 300);
      ctx.meter("tokens", 200);
      ctx.meter("images", 1);
    });
    await ctx.act("translate", {}, () => ctx.meter("tokens", 40));
    expect(host.usage).toEqual([{ tokens: 500, images: 1 }, { tokens: 40 }]);
    expect(hasCode(thrownBy(() => ctx.meter("tokens", 1)), "ERR_CONTEXT_MISUSE")).toBe(true); // the action is over
  });

  it.each([
    ["an empty unit", "", 1],
    ["a unit of 65 characters", "u".repeat(65), 1],
    ["a negative amount", "tokens", -1],
    ["NaN", "tokens", Number.NaN],
    ["an infinite amount", "tokens", Number.POSITIVE_INFINITY],
    ["a unit that is not a string", 42 as unknown as string, 1],
  ])("refuses meter with %s (ERR_CONTEXT_MISUSE), even inside ctx.act", async (_what, unit, amount) => {
    const { ctx, host } = setup();
    let error: unknown;
    await ctx.act("work", {}, () => {
      error = thrownBy(() => ctx.meter(unit, amount));
    });
    expect(hasCode(error, "ERR_CONTEXT_MISUSE")).toBe(true);
    expect(host.usage).toEqual([{}]);
  });

  it.each([
    ["an empty id", ""],
    ["a dot (an extra subject level)", "a.b"],
    ["a wildcard", "*"],
    ["a tail wildcard", ">"],
    ["a space", "a b"],
    ["a leading underscore", "_inbox"],
    ["129 characters", "a".repeat(129)],
    ["a non-string", 7 as unknown as string],
  ])("refuses ref to %s with ERR_ADDRESS_INVALID", (_what, id) => {
    const { ctx, host } = setup();
    expect(hasCode(thrownBy(() => ctx.ref(id)), "ERR_ADDRESS_INVALID")).toBe(true);
    expect(host.refs).toEqual([]);
  });

  it("makes refs that carry the sender, the trace context and the handler's execution scope", async () => {
    const { ctx, host } = setup({ incoming }, ROOT_CONTEXT);
    const ref = ctx.ref("billing-1");
    expect(ref.id).toBe("billing-1");
    await ctx.act("charge", {}, () => undefined);
    expect(host.refs).toHaveLength(1);
    expect(host.refs[0]).toMatchObject({ id: "billing-1", from: "worker", trace: ROOT_CONTEXT });
    expect(host.refs[0]?.scope.incoming).toBe(incoming);
    expect(host.calls[0]?.scope).toBe(host.refs[0]?.scope); // one scope per handled message
  });

  it("passes the call's fields to the host's action chain", async () => {
    const { ctx, host, cell } = setup({ incoming });
    const result = await ctx.act("refund", { orderId: "O-1" }, () => "refunded", { cost: { tokens: 800 }, compensate: "charge-again" });
    expect(result).toBe("refunded");
    const call = host.calls[0] as ActionCall;
    expect(call).toMatchObject({
      name: "refund",
      params: { orderId: "O-1" },
      actorId: "worker",
      nodeId: "node-a",
      messageId: "msg-1",
      cost: { tokens: 800 },
      compensate: "charge-again",
    });
    expect(call.signal).toBe(cell.signal());
    expect(call.scope).toMatchObject({ incoming, current: undefined, wid: "wf-1" });
  });

  it("leaves cost and compensate undefined when the action declares neither", async () => {
    const { ctx, host } = setup();
    await ctx.act("look", {}, () => undefined);
    expect(host.calls[0]?.cost).toBeUndefined();
    expect(host.calls[0]?.compensate).toBeUndefined();
    expect(host.calls[0]?.scope.incoming).toBeUndefined();
  });

  it("reports the incoming workflow id, then the one an action set", async () => {
    const fresh = setup();
    expect(fresh.ctx.workflowId).toBeUndefined();
    const carried = setup({ incoming });
    expect(carried.ctx.workflowId).toBe("wf-1");
    await fresh.ctx.act("start", {}, () => undefined);
    (fresh.host.calls[0] as ActionCall).scope.wid = "wf-new"; // what the ECT link does for a new workflow
    expect(fresh.ctx.workflowId).toBe("wf-new");
  });

  it("checkpoints through the host and returns the revision", async () => {
    const { ctx } = setup();
    await expect(ctx.checkpoint()).resolves.toBe(7);
  });
});
