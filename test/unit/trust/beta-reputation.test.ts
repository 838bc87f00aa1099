import { describe, expect, it } from "vitest";
import { TrustBook, TrustParams, addEvidence, betaScore, decayFactor, initialTrustState, smearFloor, type AcceptedReport } from "../../../actors/index.ts";
import { FakeClock } from "../../../runtime/index.ts";

const HOUR = 3_600_000;
const params = TrustParams.parse({ halfLifeMs: HOUR, observerCap: 10 });
let n = 0;
const report = (observer: string, subject: string, outcome: AcceptedReport["outcome"], count = 1): AcceptedReport => ({ observer, subject, outcome, count, jti: `r${++n}`, expiresAt: 0 });

describe("beta reputation", () => {
  it("halves evidence every half-life", () => {
    expect(decayFactor(0, HOUR)).toBe(1);
    expect(decayFactor(HOUR, HOUR)).toBeCloseTo(0.5, 12);
    expect(decayFactor(3 * HOUR, HOUR)).toBeCloseTo(0.125, 12);
    expect(decayFactor(-5, HOUR)).toBe(1); // a clock that went back does not inflate evidence
  });

  it("decays a score back towards the prior on a fake clock", () => {
    const clock = new FakeClock(1_000_000);
    const e = addEvidence(undefined, "failure", 8, clock.now(), params);
    expect(betaScore([e], clock.now(), params)).toEqual({ alpha: 1, beta: 9, score: 0.1 });
    clock.advance(HOUR);
    const later = betaScore([e], clock.now(), params);
    expect(later.beta).toBeCloseTo(5, 12);
    expect(later.score).toBeCloseTo(1 / 6, 12);
    clock.advance(40 * HOUR);
    expect(betaScore([e], clock.now(), params).score).toBeCloseTo(0.5, 9);
  });

  it("decays old evidence before adding new evidence", () => {
    const first = addEvidence(undefined, "success", 4, 0, params);
    const second = addEvidence(first, "success", 1, 2 * HOUR, params);
    expect(second.pos).toBeCloseTo(4 * 0.25 + 1, 12);
    expect(second.reports).toBe(2);
  });

  it("weighs outcomes: a violation costs three failures, a timeout half of one", () => {
    expect(addEvidence(undefined, "violation", 1, 0, params).neg).toBe(3);
    expect(addEvidence(undefined, "timeout", 1, 0, params).neg).toBe(0.5);
    expect(addEvidence(undefined, "rollback-caused", 1, 0, params).neg).toBe(2);
    expect(addEvidence(undefined, "vote-agreed", 1, 0, params).pos).toBe(1);
    const custom = TrustParams.parse({ weights: { timeout: [0, 2] } });
    expect(addEvidence(undefined, "timeout", 1, 0, custom).neg).toBe(2);
  });
});

describe("TrustBook", () => {
  it("gives a newcomer the prior", () => {
    const book = new TrustBook(initialTrustState(), TrustParams.parse({ prior: { alpha: 2, beta: 3 } }));
    expect(book.score("nobody", 0)).toMatchObject({ score: 0.4, alpha: 2, beta: 3, observers: 0, reports: 0 });
    expect(book.explain("nobody", 0).shares).toEqual([]);
  });

  it("bounds one observer's smear under a flood of 10,000 negative reports", () => {
    const book = new TrustBook(initialTrustState(), params);
    for (const o of ["a", "b", "c", "d"]) for (let i = 0; i < 10; i++) book.apply(report(`agent:${o}`, "worker", "success"), 0);
    const honest = book.score("worker", 0);
    expect(honest.score).toBeCloseTo(41 / 42, 12);
    for (let i = 0; i < 10_000; i++) book.apply(report("agent:smearer", "worker", "violation", 100), 0);
    const after = book.score("worker", 0);
    // the smearer holds at most observerCap negative evidence, whatever it sends
    expect(after.beta).toBe(1 + 10);
    expect(after.score).toBeCloseTo(smearFloor(honest.alpha, honest.beta, params), 12);
    expect(after.score).toBeGreaterThan(0.78);
    const share = book.explain("worker", 0).shares.find((s) => s.observer === "agent:smearer");
    expect(share).toMatchObject({ negative: 10, capped: true, reports: 10_000 });
  });

  it("bounds one observer's stuffing of a newcomer", () => {
    const book = new TrustBook(initialTrustState(), params);
    for (let i = 0; i < 5_000; i++) book.apply(report("agent:friend", "sybil", "success", 100), 0);
    expect(book.score("sybil", 0).score).toBeCloseTo(11 / 12, 12);
    // two honest observers reporting failures pull it below one half
    for (const o of ["x", "y"]) for (let i = 0; i < 10; i++) book.apply(report(`agent:${o}`, "sybil", "failure"), 0);
    expect(book.score("sybil", 0).score).toBeLessThan(0.5);
  });

  it("refuses a replayed report id until it expires", () => {
    const book = new TrustBook(initialTrustState(), params, { agents: 10, observersPerAgent: 4, recentPerAgent: 3, seen: 2 });
    book.remember("j1", 100, 0);
    expect(() => book.remember("j1", 100, 50)).toThrow(expect.objectContaining({ code: "ERR_TRUST_REPORT_INVALID" }));
    book.remember("j2", 100, 0);
    expect(() => book.remember("j3", 100, 50)).toThrow(expect.objectContaining({ code: "ERR_TRUST_LIMIT" }));
    book.remember("j3", 300, 150); // j1 and j2 expired and are forgotten
    expect(() => book.remember("j3", 300, 160)).toThrow(expect.objectContaining({ code: "ERR_TRUST_REPORT_INVALID" }));
  });

  it("refuses agents and observers beyond its limits, and keeps a bounded evidence trail", () => {
    const book = new TrustBook(initialTrustState(), params, { agents: 2, observersPerAgent: 2, recentPerAgent: 3, seen: 100 });
    book.apply(report("agent:o1", "a1", "success"), 0);
    book.apply(report("agent:o1", "a2", "success"), 0);
    expect(() => book.apply(report("agent:o1", "a3", "success"), 0)).toThrow(expect.objectContaining({ code: "ERR_TRUST_LIMIT" }));
    book.apply(report("agent:o2", "a1", "failure"), 0);
    expect(() => book.apply(report("agent:o3", "a1", "failure"), 0)).toThrow(expect.objectContaining({ code: "ERR_TRUST_LIMIT" }));
    for (let i = 0; i < 5; i++) book.apply(report("agent:o1", "a1", "success"), 0);
    expect(book.explain("a1", 0).recent).toHaveLength(3);
    expect(book.list(0).map((s) => s.agent)).toEqual(["a1", "a2"]);
  });
});
