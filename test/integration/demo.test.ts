import { describe, expect, it } from "vitest";
import { runScript } from "../support/run-script.ts";

describe("the demos", () => {
  it("npm run demo: runs the two-node pipeline on an embedded nats-server, prints the narrative and exits 0", async () => {
    const { code, out, err } = await runScript("examples/demo.ts", 45_000);
    expect({ code, err }, `the demo printed:\n${out.slice(-3000)}`).toEqual({ code: 0, err: "" });
    expect(out).toMatch(/node ops started an embedded nats-server at nats:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/INC-103 \(critical\)[\s\S]*HELD/);
    expect(out).toMatch(/ERR_MESSAGE_INVALID/);
    expect(out).toMatch(/ERR_ACTOR_NOT_FOUND/);
    expect(out).toMatch(/2 dead-letter record\(s\) stored/);
    expect(out).toMatch(/Done\.$/m);
  });

  it("npm run demo:regulated: leaves a ledger that verifies and catches each single-record tampering", async () => {
    const { code, out, err } = await runScript("examples/regulated-demo.ts", 45_000);
    expect({ code, err }, `the demo printed:\n${out.slice(-3000)}`).toEqual({ code: 0, err: "" });
    expect(out).toMatch(/ect\s+route_incident\s+level L3/);
    expect(out).toMatch(/checkpoint over #0\.\.#\d+, Merkle root .*signed/);
    expect(out).toMatch(/Ledger verification: OK/);
    for (const problem of ["modified", "deleted", "reordered", "inserted"]) expect(out).toMatch(new RegExp(`detected: ${problem} at position \\d+`));
    expect(out).not.toMatch(/NOT DETECTED/);
  });

  it("npm run demo:rollback: compensates payment, then shipping, then inventory, and restores every state", async () => {
    const { code, out, err } = await runScript("examples/rollback-demo.ts", 45_000);
    expect({ code, err }, `the demo printed:\n${out.slice(-3000)}`).toEqual({ code: 0, err: "" });
    expect(out).toMatch(/Rollback complete: compensated in order payment → shipping → inventory/);
    expect(out).toMatch(/payment\s+refund_payment\s+compensated after 2 attempt/);
    expect(out).toMatch(/stock of widgets: 100/);
    expect(out).toMatch(/open shipments:\s+0/);
    expect(out).toMatch(/money collected:\s+0/);
  });
  it("npm run demo:hospital: rejects the hallucinated dose at the gate, stops the dispenser (acknowledged), recalls the batch newest first, and verifies the ledger", async () => {
    const { code, out, err } = await runScript("examples/hospital-demo.ts", 45_000);
    expect({ code, err }, `the demo printed:\n${out.slice(-3000)}`).toEqual({ code: 0, err: "" });
    // path 1: the gate, the signed rejection, the dispense aborted, nothing dispensed
    expect(out).toMatch(/GATE \S+: pharmacy wants to dispense, held by policy dose-above-2x-usual-max/);
    expect(out).toMatch(/inputs:\s+\{"order":"RX-1","drug":"methotrexate","doseMg":250,"usualMaxMg":25/);
    expect(out).toMatch(/DECISION by dr-house \(approver, signed with \S+\): reject, "10× the usual maximum/);
    expect(out).toMatch(/order RX-1 → ERR_APPROVAL_REJECTED/);
    expect(out).toMatch(/dispensed units of RX-1: 0/);
    // path 2: the emergency stop reached the busy dispenser and was acknowledged; the batch did not finish
    expect(out).toMatch(/ack from dispenser on node pharmacy: applied, handler aborted: true/);
    expect(out).toMatch(/STOP \S+: coverage 1\/1 acknowledged\n/);
    expect(out).not.toMatch(/batch for order RX-2 complete/);
    const stopped = Number(/the batch stopped after (\d+) of 8 units/.exec(out)?.[1]);
    expect(stopped).toBeGreaterThanOrEqual(3);
    expect(stopped).toBeLessThan(8);
    // the compensations, in order: every dispensed unit, newest first, then the order, then the prescription
    // the rollback runs while the stop is still in force: new work is refused, the compensations pass
    expect(out).toContain("the stop stays in force: new work for the dispenser → ERR_ACTOR_STOPPED_BY_OVERRIDE");
    expect(out.indexOf("Rollback complete")).toBeGreaterThan(-1);
    expect(out.indexOf("stop lifted after the recall")).toBeGreaterThan(out.indexOf("Rollback complete"));
    const recalls = [...out.matchAll(/dispenser: recalled unit (\d+) of order RX-2/g)].map((m) => Number(m[1]));
    expect(recalls).toEqual(Array.from({ length: stopped }, (_, i) => stopped - i));
    expect(out).toMatch(new RegExp(`Rollback complete: ${Array(stopped).fill("dispenser:recall").join(" → ")} → pharmacy:void_order → prescriber:cancel_prescription\\n`));
    // the audit trail has the gate, the decision, the stop, its ack, the compensations; the ledger verifies
    for (const entry of ["approval.requested", "approval.rejected", "override.issued", "override.ack", "override.lifted", "compensate:recall", "override.rollback.done", "tether.override.signal", "tether.override.ack"]) expect(out).toMatch(new RegExp(`#\\d+\\s+(event|ect)\\s+${entry.replace(".", "\\.")}`));
    expect(out).toMatch(/Ledger verification: OK/);
    expect(out).toMatch(/Done\.$/m);
  });
});
