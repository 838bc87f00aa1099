import { describe, expect, it } from "vitest";
import { DriftBook, VerifierParams, initialVerifierState, type EctObservation } from "../../../actors/index.ts";
import { normal, seededRandom } from "../../support/seeded-random.ts";

const params = VerifierParams.parse({});

/** A trading agent: orders every ~1 s from the desk, size ~N(100, 10), 1 % failures. */
const trader = (seed: number) => {
  const random = seededRandom(seed);
  let at = 1_000_000;
  let i = 0;
  return (over: Partial<{ size: number; fail: number; peer: string; gap: number }> = {}): EctObservation => {
    at += Math.round((over.gap ?? 1000) * -Math.log(Math.max(random(), 1e-12)));
    i += 1;
    return {
      jti: `ect-${i}`,
      agent: "trader",
      act: "order",
      at,
      outcome: random() < (over.fail ?? 0.01) ? "failed" : "ok",
      params: { size: (over.size ?? 100) + 10 * normal(random), symbol: "ACME" },
      peer: over.peer ?? "desk",
    };
  };
};

describe("DriftBook", () => {
  it("raises no finding for a stationary agent over 20,000 actions", () => {
    const book = new DriftBook(initialVerifierState(), params);
    const next = trader(1);
    const found = Array.from({ length: 20_000 }, () => book.observe(next())).flat();
    expect(found).toEqual([]);
  });

  it("flags an order size drifting by 1 sd within 60 actions, naming the series and the ECT", () => {
    const state = initialVerifierState();
    const book = new DriftBook(state, params);
    const next = trader(2);
    for (let i = 0; i < 500; i += 1) expect(book.observe(next())).toEqual([]);
    let n = 0;
    let finding;
    while (finding === undefined && n < 1000) {
      n += 1;
      finding = book.observe(next({ size: 110 })).find((f) => f.series === "order.size");
    }
    expect(finding).toMatchObject({ agent: "trader", series: "order.size", direction: "up", ect: `ect-${500 + n}` });
    expect(n).toBeLessThanOrEqual(60);
    expect(state.findings).toContainEqual(finding);
  });

  it("flags a failure rate rising from 1 % to 30 % and a switch to unseen peers", () => {
    const book = new DriftBook(initialVerifierState(), params);
    const next = trader(3);
    for (let i = 0; i < 1000; i += 1) book.observe(next());
    const failures = Array.from({ length: 200 }, () => book.observe(next({ fail: 0.3 }))).flat();
    expect(failures.map((f) => f.series)).toContain("failure");
    const peers = Array.from({ length: 200 }, () => book.observe(next({ peer: "stranger" }))).flat();
    expect(peers.map((f) => f.series)).toContain("peer");
  });

  it("flags an agent acting ten times as often", () => {
    const book = new DriftBook(initialVerifierState(), params);
    const next = trader(4);
    for (let i = 0; i < 500; i += 1) book.observe(next());
    const found = Array.from({ length: 100 }, () => book.observe(next({ gap: 100 }))).flat();
    expect(found).toContainEqual(expect.objectContaining({ series: "rate", direction: "down" }));
  });

  it("bounds agents and series per agent", () => {
    const book = new DriftBook(initialVerifierState(), VerifierParams.parse({ maxAgents: 2, maxSeriesPerAgent: 4 }));
    for (const agent of ["a", "b", "c"]) book.observe({ jti: "x", agent, act: "go", at: 1, outcome: "ok", params: { p1: 1, p2: 2, p3: 3, p4: 4, p5: 5 } });
    expect(book.describe("c")).toBeUndefined();
    expect(Object.keys(book.describe("a") ?? {}).length).toBeLessThanOrEqual(4);
  });
});
