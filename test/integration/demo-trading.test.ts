import { describe, expect, it } from "vitest";
import { runScript } from "../support/run-script.ts";

describe("npm run demo:trading", () => {
  it("blocks the over-limit trade with signed evidence, flags the drift inside the limit, quarantines the trader through the override plane, shows trust fall, and verifies the ledger", async () => {
    const { code, out, err } = await runScript("examples/trading-demo.ts");
    expect({ code, err }, `the demo printed:\n${out.slice(-3000)}`).toEqual({ code: 0, err: "" });
    expect(out).toMatch(/started|nats:\/\/127\.0\.0\.1:\d+/);
    // before: trusted, no finding on a stationary trader
    expect(out).toMatch(/verifier appraised 40 actions: 0 findings/);
    const before = Number(/TRUST BEFORE: ([\d.]+)/.exec(out)?.[1]);
    expect(before).toBeCloseTo(11 / 12, 3);
    // the catch: blocked by the profile, with a signed violation ECT
    expect(out).toMatch(/BLOCKED by the profile: ERR_PROFILE_VIOLATION \(params\): .*qty/);
    expect(out).toMatch(/evidence: ECT \S+ exec_act tether\.profile\.violation, issuer tether:\/\/trading\/agent\/trader, outcome refused, signed \(ES256 JWS\)/);
    expect(Number(/trust after the violation: ([\d.]+)/.exec(out)?.[1])).toBeCloseTo(11 / 15, 3);
    // the drift inside the limit, within the documented bound
    const drifted = Number(/DRIFT flagged by the verifier \(Page–Hinkley on trade\.qty\): up, (\d+) drifted orders after the model update/.exec(out)?.[1]);
    expect(drifted).toBeGreaterThan(0);
    expect(drifted).toBeLessThanOrEqual(60);
    // the quarantine: a pause through the override plane, acknowledged, the new order held until an operator lifts it
    expect(out).toMatch(/QUARANTINE tq-[0-9a-f]+-1: trader paused \(cause: score, trust 0\.\d+ < 0\.6\), issued by trust-supervisor/);
    expect(out).toMatch(/coverage of the pause: 1\/1 acknowledged \(from node desk\)/);
    expect(out).toMatch(/a new order to the trader while quarantined: held in its mailbox/);
    const after = Number(/TRUST AFTER: ([\d.]+)/.exec(out)?.[1]);
    expect(after).toBeLessThan(0.6);
    expect(out).toMatch(/observer agent:verifier\s+\+0\.00 -\d/);
    expect(out).toMatch(/oscar \(operator\) lifts the quarantine \(1\/1 acknowledged\): the held order ran \(10 lots\)/);
    // the audit trail and its verification
    for (const event of ["violation", "drift", "trust.quarantined", "override.issued", "override.lifted"]) expect(out).toMatch(new RegExp(`${event.replace(".", "\\.")}\\s+[1-9]`));
    expect(out).toMatch(/Ledger verification: OK/);
    expect(out).toMatch(/Done\.$/m);
  });
});
