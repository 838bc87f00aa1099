import { describe, expect, it } from "vitest";
import { FakeClock, silentLogger, type NodeEvent, type StoredEctRecord } from "../../runtime/index.ts";
import { RollbackCoordinator, type RollbackCause } from "../../runtime/internal.ts";
import { TetherError, encodeBody, hasCode, type CompensationRequest, type RollbackReport, type RollbackRequestInput } from "../../protocols/index.ts";
import { MemoryEctStore } from "../support/memory-ect-store.ts";

const WID = "0b6a4a0e-8f0e-4c1e-9a53-2f7a8f1d0c11";

interface RecordSpec {
  readonly jti: string;
  readonly actor: string;
  readonly iat: number;
  readonly par?: string[];
  readonly action?: string;
  /** The declared compensation; omitted: not compensable. */
  readonly undo?: string;
  readonly outcome?: "ok" | "failed" | "refused";
}

const record = (s: RecordSpec): StoredEctRecord => ({
  jti: s.jti,
  iat: s.iat,
  par: s.par ?? [],
  wid: WID,
  iss: `spiffe://tether/net/${s.actor}`,
  exec_act: s.action ?? `do-${s.jti}`,
  level: "L1",
  token: "unsigned",
  actor: s.actor,
  outcome: s.outcome ?? "ok",
  ...(s.undo === undefined
    ? {}
    : { undo: { compensation: s.undo, data: Buffer.from(encodeBody({ params: { of: s.jti }, result: `result-${s.jti}` })).toString("base64") } }),
});

/** Records of the compensations that ran: what the coordinator reads to skip them next time. */
const compensationOf = (jti: string, outcome: "ok" | "failed" = "ok"): StoredEctRecord =>
  record({ jti: `undo-${jti}`, actor: "x", iat: 100, par: [jti], action: `compensate:${jti}`, outcome });

type Compensate = (actorId: string, request: CompensationRequest, timeoutMs: number) => Promise<unknown>;

const setup = (records: StoredEctRecord[], compensate: Compensate = async () => undefined) => {
  const store = new MemoryEctStore();
  store.put(...records);
  const clock = new FakeClock(0);
  const calls: { actorId: string; request: CompensationRequest; timeoutMs: number }[] = [];
  const events: NodeEvent[] = [];
  const ledger: { event: string; subject: string; details: Record<string, unknown> }[] = [];
  const causes: RollbackCause[] = [];
  const coordinator = new RollbackCoordinator({
    store,
    clock,
    logger: silentLogger,
    compensate: (actorId, request, timeoutMs) => {
      calls.push({ actorId, request, timeoutMs });
      return compensate(actorId, request, timeoutMs);
    },
    emit: (event) => events.push(event),
    recordEvent: async (event, subject, details) => ledger.push({ event, subject, details }),
    recordCause: async (cause) => {
      causes.push(cause);
      return `cause-${causes.length}`;
    },
  });
  /** Runs a rollback to its end, moving the fake clock on whenever it waits for a backoff. */
  const run = async (request: Partial<RollbackRequestInput> = {}): Promise<RollbackReport> => {
    let outcome: { report?: RollbackReport; error?: unknown } | undefined;
    coordinator.run({ workflow: WID, ...request }).then(
      (report) => (outcome = { report }),
      (error: unknown) => (outcome = { error }),
    );
    for (let i = 0; i < 100 && outcome === undefined; i++) {
      await flush();
      if (outcome === undefined && clock.pending > 0) clock.advance(60_000);
    }
    if (outcome === undefined) throw new Error("rollback did not finish");
    if (outcome.error !== undefined) throw outcome.error;
    return outcome.report as RollbackReport;
  };
  return { coordinator, clock, calls, events, ledger, causes, run };
};

const flush = async (ticks = 30): Promise<void> => {
  for (let i = 0; i < ticks; i++) await Promise.resolve();
};

const rejection = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
};

/**
 *   a ─┬─ b ─┬─ d
 *      └─ c ─┘
 * a reserves stock, b charges, c books shipping, d sends the confirmation (not compensable).
 */
const diamond = (): StoredEctRecord[] => [
  record({ jti: "a", actor: "inventory", iat: 1, undo: "release" }),
  record({ jti: "b", actor: "payment", iat: 2, par: ["a"], undo: "refund" }),
  record({ jti: "c", actor: "shipping", iat: 3, par: ["a"], undo: "cancel" }),
  record({ jti: "d", actor: "mailer", iat: 4, par: ["b", "c"] }),
];

describe("RollbackCoordinator", () => {
  it("compensates children before parents, and the later of two independent actions first", async () => {
    const { run, calls } = setup([record({ jti: "e", actor: "audit", iat: 5, par: ["d"], undo: "unlog" }), ...diamond()]);
    const report = await run();
    expect(report.ok).toBe(true);
    expect(report.steps.map((s) => [s.jti, s.outcome])).toEqual([
      ["e", "compensated"],
      ["d", "not-compensable"],
      ["c", "compensated"],
      ["b", "compensated"],
      ["a", "compensated"],
    ]);
    expect(calls.map((c) => c.actorId)).toEqual(["audit", "shipping", "payment", "inventory"]);
  });

  it("records the cause a request names once, about that agent only, when it compensated something", async () => {
    const { run, causes, ledger } = setup(diamond());
    const report = await run({ from: "b", cause: { agent: "payment", reason: "charged the wrong card" } });
    expect(report.causeEct).toBe("cause-1");
    expect(causes).toEqual([{ agent: "payment", reason: "charged the wrong card", workflow: WID, from: "b", compensated: ["b"] }]);
    expect(ledger.find((l) => l.event === "rollback.caused")).toMatchObject({ subject: "payment", details: { from: "b", ect: "cause-1" } });
    // nothing compensated (d declares no compensation): nobody is blamed; no cause named: nobody is blamed
    expect((await run({ from: "d", cause: { agent: "mailer", reason: "spam" } })).causeEct).toBeUndefined();
    expect((await run({})).causeEct).toBeUndefined();
    expect(causes).toHaveLength(1);
  });

  it("orders independent actions minted in the same second by jti", async () => {
    const { run, calls } = setup([
      record({ jti: "p", actor: "one", iat: 7, undo: "u" }),
      record({ jti: "q", actor: "two", iat: 7, undo: "u" }),
      record({ jti: "o", actor: "three", iat: 7, undo: "u" }),
    ]);
    await run();
    expect(calls.map((c) => c.request.jti)).toEqual(["q", "p", "o"]);
  });

  it("sends each actor what its action was called with and returned", async () => {
    const { run, calls } = setup(diamond());
    await run({ timeoutMs: 2_500 });
    expect(calls[0]).toEqual({
      actorId: "shipping",
      timeoutMs: 2_500,
      request: {
        type: "tether.rollback.v1.compensate",
        jti: "c",
        wid: WID,
        action: "do-c",
        compensation: "cancel",
        params: { of: "c" },
        result: "result-c",
        attempt: 1,
      },
    });
  });

  it("rolls back only the given action and what it caused", async () => {
    const { run, calls } = setup(diamond());
    const report = await run({ from: "b" });
    expect(report.from).toBe("b");
    expect(report.steps.map((s) => s.jti)).toEqual(["d", "b"]);
    expect(calls.map((c) => c.actorId)).toEqual(["payment"]);
  });

  it("skips failed and refused actions, and actions an earlier rollback already compensated", async () => {
    const { run, calls } = setup([
      ...diamond(),
      record({ jti: "f", actor: "payment", iat: 5, par: ["a"], undo: "refund", outcome: "failed" }),
      record({ jti: "r", actor: "payment", iat: 6, par: ["a"], undo: "refund", outcome: "refused" }),
      compensationOf("c"),
      compensationOf("b", "failed"), // the earlier refund failed: it must run again
    ]);
    const report = await run();
    expect(report.steps.map((s) => [s.jti, s.outcome])).toEqual([
      ["d", "not-compensable"],
      ["c", "already-compensated"],
      ["b", "compensated"],
      ["a", "compensated"],
    ]);
    expect(calls.map((c) => c.request.jti)).toEqual(["b", "a"]);
    expect(report.ok).toBe(true);
  });

  it("retries a failing compensation after a backoff that doubles on the clock, then goes on", async () => {
    let failures = 2;
    const { coordinator, clock, calls } = setup(diamond(), async (actorId) => {
      if (actorId === "shipping" && failures-- > 0) throw new Error("carrier busy");
    });
    let report: RollbackReport | undefined;
    void coordinator.run({ workflow: WID, attempts: 3, backoffMs: 100 }).then((r) => (report = r));
    await flush();
    expect(calls).toHaveLength(1);
    clock.advance(99);
    await flush();
    expect(calls).toHaveLength(1);
    clock.advance(1);
    await flush();
    expect(calls.map((c) => c.request.attempt)).toEqual([1, 2]);
    clock.advance(199);
    await flush();
    expect(calls).toHaveLength(2);
    clock.advance(1);
    await flush();
    expect(report?.ok).toBe(true);
    expect(calls.map((c) => [c.actorId, c.request.attempt])).toEqual([
      ["shipping", 1],
      ["shipping", 2],
      ["shipping", 3],
      ["payment", 1],
      ["inventory", 1],
    ]);
    expect(report?.steps.find((s) => s.jti === "c")).toMatchObject({ outcome: "compensated", attempts: 3 });
    expect(report?.steps.find((s) => s.jti === "c")?.error).toBeUndefined();
  });

  it("escalates a compensation that keeps failing and stops without touching its parents", async () => {
    const { run, calls, events, ledger } = setup(diamond(), async (actorId) => {
      if (actorId === "shipping") throw new Error("carrier gone");
    });
    const report = await run({ attempts: 3, backoffMs: 10 });
    expect(report.ok).toBe(false);
    expect(report.steps.map((s) => [s.jti, s.outcome, s.attempts])).toEqual([
      ["d", "not-compensable", 0],
      ["c", "failed", 3],
      ["b", "pending", 0],
      ["a", "pending", 0],
    ]);
    expect(report.steps[1]?.error).toEqual({ code: "ERR_ROLLBACK_COMPENSATION_FAILED", message: "carrier gone" });
    expect(calls.map((c) => c.actorId)).toEqual(["shipping", "shipping", "shipping"]);
    expect(events.map((e) => e.type)).toEqual(["rollback-step", "rollback-escalated"]);
    expect(events[1]).toMatchObject({ workflow: WID, step: { jti: "c", actor: "shipping", outcome: "failed" } });
    expect(ledger.map((l) => [l.event, l.subject])).toEqual([
      ["rollback.started", WID],
      ["rollback.escalated", "shipping"],
      ["rollback.finished", WID],
    ]);
    expect(ledger[1]?.details).toMatchObject({ workflow: WID, jti: "c", action: "do-c", error: { code: "ERR_ROLLBACK_COMPENSATION_FAILED" } });
    expect(ledger[2]?.details).toEqual({ ok: false, compensated: 0 });
  });

  it("keeps the code of the TetherError a compensation failed with", async () => {
    const { run } = setup(diamond(), async () => {
      throw new TetherError("ERR_ASK_TIMEOUT", "no answer");
    });
    const report = await run({ attempts: 2 });
    expect(report.steps.find((s) => s.outcome === "failed")?.error).toEqual({ code: "ERR_ASK_TIMEOUT", message: "no answer" });
  });

  it("does not retry an actor that cannot compensate (ERR_ROLLBACK_NOT_COMPENSABLE)", async () => {
    const { run, calls, clock } = setup(diamond(), async () => {
      throw new TetherError("ERR_ROLLBACK_NOT_COMPENSABLE", "no compensate()");
    });
    const report = await run({ attempts: 5 });
    expect(calls).toHaveLength(1);
    expect(report.steps.find((s) => s.jti === "c")).toMatchObject({ outcome: "failed", attempts: 1, error: { code: "ERR_ROLLBACK_NOT_COMPENSABLE" } });
    expect(clock.pending).toBe(0);
  });

  it("reports each compensation that ran as a rollback-step event and records the start and the end", async () => {
    const { run, events, ledger } = setup(diamond());
    await run();
    expect(events.map((e) => (e.type === "rollback-step" ? [e.step.jti, e.step.outcome] : e.type))).toEqual([
      ["c", "compensated"],
      ["b", "compensated"],
      ["a", "compensated"],
    ]);
    expect(ledger[0]).toEqual({ event: "rollback.started", subject: WID, details: { from: null, steps: 4 } });
    expect(ledger[1]).toEqual({ event: "rollback.finished", subject: WID, details: { ok: true, compensated: 3 } });
  });

  it.each([
    ["a workflow id that is not a UUID", { workflow: "order-1" }],
    ["zero attempts", { attempts: 0 }],
    ["a negative backoff", { backoffMs: -1 }],
    ["an unknown field", { force: true }],
  ])("refuses a request with %s (ERR_ROLLBACK_INVALID) before compensating anything", async (_what, bad) => {
    const { coordinator, calls } = setup(diamond());
    const error = await rejection(coordinator.run({ workflow: WID, ...bad }));
    expect(hasCode(error, "ERR_ROLLBACK_INVALID")).toBe(true);
    expect(calls).toEqual([]);
  });

  it("refuses a workflow with no recorded actions, and a `from` outside the workflow (ERR_ROLLBACK_INVALID)", async () => {
    const { coordinator, calls } = setup(diamond());
    const unknown = await rejection(coordinator.run({ workflow: "6f1c3a52-0000-4000-8000-000000000000" }));
    expect(hasCode(unknown, "ERR_ROLLBACK_INVALID")).toBe(true);
    const stranger = await rejection(coordinator.run({ workflow: WID, from: "zz" }));
    expect(hasCode(stranger, "ERR_ROLLBACK_INVALID")).toBe(true);
    expect(calls).toEqual([]);
  });
});
