import { describe, expect, it } from "vitest";
import { RefusalBudget, TrustBook, TrustParams, ingest, initialTrustState, type EctFeed, type FeedEntry, type IngestDeps, type QuarantinePort, type TrustState } from "../../../actors/index.ts";

/** A stream of `n` records: agent `a` succeeds on even sequences, fails on odd ones, all observed by node n1. */
const stream = (n: number): FeedEntry[] =>
  Array.from({ length: n }, (_, i) => ({ seq: i + 1, storedAt: 1_000 + i, jti: `j${i + 1}`, derived: { observer: "node:n1", subject: "a", outcome: i % 2 === 0 ? "success" : "failure", jti: `j${i + 1}` } }));

const feedOf = (entries: FeedEntry[]): EctFeed => ({ read: async (after, limit) => entries.filter((e) => e.seq > after).slice(0, limit) });

const params = TrustParams.parse({ observerCap: 1_000 });

/** An actor's life: state restored from the last saved checkpoint, replay memory from it. */
const run = async (saved: { state: TrustState }, entries: FeedEntry[], limit: number, crashOnCheckpoint: boolean, quarantine?: QuarantinePort) => {
  const state = structuredClone(saved.state);
  const deps: IngestDeps = {
    feed: feedOf(entries),
    quarantine,
    now: () => 5_000,
    record: async () => undefined,
    checkpoint: async () => {
      if (crashOnCheckpoint) throw new Error("crash before the checkpoint was saved");
      saved.state = structuredClone(state);
    },
    refusals: new RefusalBudget(),
    self: "trust",
    seen: new Map(state.recentJtis ?? []),
    windowMs: 31_000,
  };
  return ingest(state, new TrustBook(state, params), limit, deps);
};

describe("ingesting the ECT stream", () => {
  it("counts every record exactly once when the actor crashes before a checkpoint and restarts from the last one", async () => {
    const entries = stream(25);
    const saved = { state: initialTrustState() };
    expect(await run(saved, entries, 10, false)).toMatchObject({ counted: 10, position: 10, more: true });
    await expect(run(saved, entries, 10, true)).rejects.toThrow("crash");
    expect(saved.state.position).toBe(10); // the crashed batch left nothing durable
    expect(await run(saved, entries, 10, false)).toMatchObject({ counted: 10, position: 20 });
    expect(await run(saved, entries, 10, false)).toMatchObject({ counted: 5, position: 25, more: false });
    const score = new TrustBook(saved.state, params).score("a", 5_000);
    expect({ alpha: score.alpha, beta: score.beta, reports: score.reports }).toEqual({ alpha: 1 + 13, beta: 1 + 12, reports: 25 });
  });

  it("refuses a record id it counted before, also after a restart from the checkpoint", async () => {
    const entries = stream(4);
    const saved = { state: initialTrustState() };
    await run(saved, entries, 10, false);
    const replayed = [...entries, { ...(entries[0] as FeedEntry), seq: 5, storedAt: 1_010 }];
    expect(await run(saved, replayed, 10, false)).toMatchObject({ counted: 0, rejected: 1, position: 5 });
  });

  it("quarantines once per fall below the threshold, and again only after the score rose to it", async () => {
    const issued: string[] = [];
    const port: QuarantinePort = { threshold: 0.5, issue: async (q) => (issued.push(q.overrideId), { acked: 1, expected: 1 }) };
    const fail = (seq: number, outcome: "failure" | "success"): FeedEntry => ({ seq, storedAt: seq, jti: `f${seq}`, derived: { observer: "node:n1", subject: "a", outcome, jti: `f${seq}` } });
    const saved = { state: initialTrustState() };
    const entries = [fail(1, "failure")];
    expect((await run(saved, entries, 10, false, port)).quarantined.map((q) => q.cause)).toEqual(["score"]);
    entries.push(fail(2, "failure"));
    expect((await run(saved, entries, 10, false, port)).quarantined).toEqual([]); // still below: no second pause
    for (let s = 3; s <= 6; s++) entries.push(fail(s, "success")); // back to 5 / 8 >= 0.5
    expect((await run(saved, entries, 10, false, port)).quarantined).toEqual([]);
    for (let s = 7; s <= 10; s++) entries.push(fail(s, "failure")); // 5 / 12 < 0.5 again
    const again = await run(saved, entries, 10, false, port);
    expect(again.quarantined.map((q) => q.overrideId)).toEqual([issued[1]]);
    expect(issued).toHaveLength(2);
    expect(new Set(issued).size).toBe(2);
  });
});
