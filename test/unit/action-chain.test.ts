import { describe, expect, it } from "vitest";
import type { ActionCall, ActionInterceptor } from "../../runtime/index.ts";
import { composeActionChain, newScope } from "../../runtime/internal.ts";
import { TetherError, hasCode } from "../../protocols/index.ts";

const call = (overrides: Partial<Record<keyof ActionCall, unknown>> = {}): ActionCall =>
  ({
    name: "charge",
    params: { amount: 5 },
    actorId: "payment",
    nodeId: "node-a",
    messageId: "msg-1",
    signal: new AbortController().signal,
    cost: undefined,
    compensate: undefined,
    scope: newScope(undefined),
    ...overrides,
  }) as ActionCall;

/** A link that records entering and leaving, around `next`. */
const tracing =
  (name: string, log: string[]): ActionInterceptor =>
  async (_call, next) => {
    log.push(`${name}>`);
    try {
      return await next();
    } finally {
      log.push(`<${name}`);
    }
  };

const rejection = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
};

describe("composeActionChain", () => {
  it("runs the links outermost first around the action, and unwinds innermost first", async () => {
    const log: string[] = [];
    const chain = composeActionChain([tracing("outer", log), tracing("middle", log), tracing("inner", log)]);
    const result = await chain(call(), () => {
      log.push("action");
      return 42;
    });
    expect(result).toBe(42);
    expect(log).toEqual(["outer>", "middle>", "inner>", "action", "<inner", "<middle", "<outer"]);
  });

  it("runs the action directly when there are no links", async () => {
    const chain = composeActionChain([]);
    await expect(chain(call(), async () => "done")).resolves.toBe("done");
  });

  it("hands every link the same call", async () => {
    const seen: ActionCall[] = [];
    const spy: ActionInterceptor = (c, next) => {
      seen.push(c);
      return next();
    };
    const c = call();
    await composeActionChain([spy, spy])(c, () => undefined);
    expect(seen).toEqual([c, c]);
    expect(seen[0]).toBe(c);
  });

  it("lets a link short-circuit: inner links and the action never run, and its value is the result", async () => {
    const log: string[] = [];
    const cached: ActionInterceptor = async () => "from cache";
    const chain = composeActionChain([tracing("outer", log), cached, tracing("inner", log)]);
    const result = await chain(call(), () => {
      log.push("action");
      return "fresh";
    });
    expect(result).toBe("from cache");
    expect(log).toEqual(["outer>", "<outer"]);
  });

  it("lets a link refuse the action by throwing, before it runs", async () => {
    const log: string[] = [];
    const refused = new TetherError("ERR_QUOTA_EXCEEDED", "over budget");
    const quota: ActionInterceptor = async () => {
      throw refused;
    };
    const chain = composeActionChain([tracing("outer", log), quota, tracing("inner", log)]);
    const error = await rejection(chain(call(), () => log.push("action")));
    expect(error).toBe(refused);
    expect(log).toEqual(["outer>", "<outer"]);
  });

  it("propagates the action's error out through every link", async () => {
    const seen: unknown[] = [];
    const watcher: ActionInterceptor = async (_c, next) => {
      try {
        return await next();
      } catch (error) {
        seen.push(error);
        throw error;
      }
    };
    const failure = new Error("bank down");
    const error = await rejection(
      composeActionChain([watcher, watcher])(call(), () => {
        throw failure;
      }),
    );
    expect(error).toBe(failure);
    expect(seen).toEqual([failure, failure]);
  });

  it.each([
    ["an empty name", { name: "" }],
    ["a name of 257 characters", { name: "a".repeat(257) }],
    ["a name that is not a string", { name: 7 }],
    ["null params", { params: null }],
    ["params that are not an object", { params: "amount=5" }],
    ["a cost that is not an object", { cost: 5 }],
    ["a NaN cost", { cost: { tokens: Number.NaN } }],
    ["an infinite cost", { cost: { tokens: Number.POSITIVE_INFINITY } }],
    ["a negative cost", { cost: { tokens: -1 } }],
    ["a cost given as text", { cost: { tokens: "800" } }],
    ["a cost with an empty unit", { cost: { "": 1 } }],
    ["a cost with a unit of 65 characters", { cost: { ["u".repeat(65)]: 1 } }],
    ["an empty compensation name", { compensate: "" }],
    ["a compensation name that is not a string", { compensate: 1 }],
  ])("refuses %s with ERR_MESSAGE_INVALID before any link runs", async (_what, overrides) => {
    const log: string[] = [];
    const chain = composeActionChain([tracing("outer", log)]);
    const error = await rejection(chain(call(overrides), () => log.push("action")));
    expect(hasCode(error, "ERR_MESSAGE_INVALID")).toBe(true);
    expect(log).toEqual([]);
  });

  it("accepts a declared cost of finite non-negative amounts", async () => {
    await expect(composeActionChain([])(call({ cost: { tokens: 800, images: 0, "gpu-seconds": 1.5 } }), () => "ok")).resolves.toBe("ok");
  });

  it("accepts a name of 256 characters", async () => {
    await expect(composeActionChain([])(call({ name: "a".repeat(256) }), () => "ok")).resolves.toBe("ok");
  });
});
