import { describe, expect, it } from "vitest";
import { ApprovalBook, claimHashOf, initialApprovalsState } from "../../actors/index.ts";
import { ApprovalPolicy, matchPolicy, type ApprovalPolicyInput } from "../../protocols/index.ts";
import { FakeClock } from "../../runtime/index.ts";

const policy = (gate: Partial<ApprovalPolicyInput["gate"]> = {}): ApprovalPolicy =>
  ApprovalPolicy.parse({
    id: "dose-bound",
    action: "dispense",
    when: [{ param: "doseMg", op: "gt", ref: { param: "usualMaxMg", times: 2 } }],
    gate: { deciders: { roles: ["approver"] }, timeoutMs: 60_000, ...gate },
  });

const open = (book: ApprovalBook, clock: FakeClock, gate: Partial<ApprovalPolicyInput["gate"]> = {}) =>
  book.open({ policy: policy(gate), actorId: "pharmacist", action: "dispense", explanation: { summary: "s", inputs: { doseMg: 5000 }, evidence: [] } }, clock.now());

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
};

describe("matchPolicy", () => {
  it("gates a dose above twice the usual maximum and lets a normal dose through", () => {
    const p = [policy()];
    expect(matchPolicy(p, { action: "dispense", params: { doseMg: 5000, usualMaxMg: 1000 } })?.id).toBe("dose-bound");
    expect(matchPolicy(p, { action: "dispense", params: { doseMg: 1500, usualMaxMg: 1000 } })).toBeUndefined();
    expect(matchPolicy(p, { action: "prescribe", params: { doseMg: 5000, usualMaxMg: 1000 } })).toBeUndefined();
    // a missing or non-numeric bound never matches silently as "safe": the comparison does not hold, so no gate
    expect(matchPolicy(p, { action: "dispense", params: { doseMg: "5000", usualMaxMg: 1000 } })).toBeUndefined();
  });

  it("matches by risk level and assurance profile", () => {
    const p = [ApprovalPolicy.parse({ id: "risky", action: "*", minRisk: "high", profiles: ["regulated"], gate: { deciders: { roles: ["approver"] }, timeoutMs: 1000 } })];
    expect(matchPolicy(p, { action: "wire", params: {}, risk: "critical", profile: "regulated" })?.id).toBe("risky");
    expect(matchPolicy(p, { action: "wire", params: {}, risk: "medium", profile: "regulated" })).toBeUndefined();
    expect(matchPolicy(p, { action: "wire", params: {}, risk: "critical", profile: "relaxed" })).toBeUndefined();
  });
});

describe("ApprovalBook", () => {
  it("escalates to the next group when the first times out, then takes the default outcome (fake clock)", () => {
    const clock = new FakeClock(1_000_000);
    const book = new ApprovalBook(initialApprovalsState());
    const record = open(book, clock, { escalation: [{ deciders: { roles: ["admin"] }, timeoutMs: 30_000 }] });
    expect(record.status).toBe("pending");
    clock.advance(59_999);
    expect(book.tick(clock.now())).toEqual([]);
    clock.advance(1);
    const [escalated] = book.tick(clock.now());
    expect(escalated?.entry?.decision).toBe("escalate");
    expect(book.get(record.id).level).toBe(1);
    // the first group may no longer decide; the escalation group may
    expect(code(() => book.decide(record.id, "approve", { owner: "alice", role: "approver" }, clock.now()))).toBe("ERR_APPROVAL_DECIDER_FORBIDDEN");
    clock.advance(30_000);
    const [timedOut] = book.tick(clock.now());
    expect(timedOut?.entry?.decision).toBe("timeout-reject");
    expect(book.get(record.id).status).toBe("rejected");
    expect(code(() => book.consume(record.id, clock.now()))).toBe("ERR_APPROVAL_REJECTED");
  });

  it("lets an override-only gate proceed at its deadline unless someone rejects", () => {
    const clock = new FakeClock(0);
    const book = new ApprovalBook(initialApprovalsState());
    const a = open(book, clock, { type: "override" });
    const b = open(book, clock, { type: "override" });
    book.decide(b.id, "reject", { owner: "alice", role: "approver" }, clock.now(), "no");
    clock.advance(60_000);
    book.tick(clock.now());
    expect(book.get(a.id).status).toBe("approved");
    expect(book.get(b.id).status).toBe("rejected");
  });

  it("refuses a role or owner the gate does not name", () => {
    const clock = new FakeClock(0);
    const book = new ApprovalBook(initialApprovalsState());
    const r = open(book, clock, { deciders: { roles: ["approver"], owners: ["dr-house"] } });
    expect(code(() => book.decide(r.id, "approve", { owner: "olivia", role: "owner" }, 0))).toBe("ERR_APPROVAL_DECIDER_FORBIDDEN");
    expect(code(() => book.decide(r.id, "approve", { owner: "mallory", role: "approver" }, 0))).toBe("ERR_APPROVAL_DECIDER_FORBIDDEN");
    expect(book.get(r.id).status).toBe("pending");
    book.decide(r.id, "approve", { owner: "dr-house", role: "approver" }, 0);
    expect(book.get(r.id).status).toBe("approved");
  });

  it("uses an approval once, within its validity, unless it was revoked", () => {
    const clock = new FakeClock(0);
    const book = new ApprovalBook(initialApprovalsState());
    const once = open(book, clock);
    book.decide(once.id, "approve", { owner: "a", role: "approver" }, clock.now());
    expect(book.consume(once.id, clock.now()).status).toBe("executed");
    expect(code(() => book.consume(once.id, clock.now()))).toBe("ERR_APPROVAL_ALREADY_DECIDED");
    expect(code(() => book.decide(once.id, "revoke", { owner: "a", role: "approver" }, clock.now()))).toBe("ERR_APPROVAL_ALREADY_DECIDED");

    const revoked = open(book, clock);
    book.decide(revoked.id, "approve", { owner: "a", role: "approver" }, clock.now());
    book.decide(revoked.id, "revoke", { owner: "b", role: "approver" }, clock.now(), "wrong patient");
    expect(code(() => book.consume(revoked.id, clock.now()))).toBe("ERR_APPROVAL_REVOKED");

    const lapsed = open(book, clock, { validForMs: 1_000 });
    book.decide(lapsed.id, "approve", { owner: "a", role: "approver" }, clock.now());
    clock.advance(1_001);
    expect(code(() => book.consume(lapsed.id, clock.now()))).toBe("ERR_APPROVAL_EXPIRED");
  });

  it("lets only the holder of the opener's secret use an approval; a wrong or missing secret changes nothing", () => {
    const clock = new FakeClock(0);
    const book = new ApprovalBook(initialApprovalsState());
    const record = book.open({ policy: policy({}), actorId: "pharmacist", action: "dispense", explanation: { summary: "s", inputs: {}, evidence: [] }, claimHash: claimHashOf("s3cret") }, clock.now());
    book.decide(record.id, "approve", { owner: "a", role: "approver" }, clock.now());
    expect(code(() => book.consume(record.id, clock.now()))).toBe("ERR_APPROVAL_CLAIM_INVALID");
    expect(code(() => book.consume(record.id, clock.now(), "guess"))).toBe("ERR_APPROVAL_CLAIM_INVALID");
    expect(code(() => book.consume(record.id, clock.now(), claimHashOf("s3cret")))).toBe("ERR_APPROVAL_CLAIM_INVALID");
    expect(book.get(record.id).status).toBe("approved");
    expect(book.consume(record.id, clock.now(), "s3cret").status).toBe("executed");
  });

  it("accepts a decision nonce once and forgets it after its expiry", () => {
    const book = new ApprovalBook(initialApprovalsState());
    expect(book.rememberNonce("k", "n", 100)).toBe(true);
    expect(book.rememberNonce("k", "n", 100)).toBe(false);
    book.tick(101);
    expect(book.rememberNonce("k", "n", 200)).toBe(true);
  });

  it("rejects malformed gates", () => {
    expect(ApprovalPolicy.safeParse({ id: "x", action: "a", gate: { deciders: { roles: [] }, timeoutMs: 1 } }).success).toBe(false);
    expect(ApprovalPolicy.safeParse({ id: "x", action: "a", gate: { deciders: { roles: ["pope"] }, timeoutMs: 1 } }).success).toBe(false);
  });
});
