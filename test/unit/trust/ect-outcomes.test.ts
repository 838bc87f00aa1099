import { describe, expect, it } from "vitest";
import { deriveOutcome, type DeriveOptions } from "../../../actors/index.ts";
import type { EctClaims } from "../../../protocols/index.ts";

const o: DeriveOptions = { network: "net", verifiers: ["verifier"], ignore: new Set(["trust", "audit"]) };
const claims = (iss: string, act: string, ext: Record<string, unknown>): EctClaims =>
  ({ iss: `tether://net/agent/${iss}`, aud: ["tether://net"], jti: "11111111-1111-4111-8111-111111111111", iat: 1, exp: 60, exec_act: act, par: [], inp_hash: "x", ext }) as unknown as EctClaims;
const node = { role: "node", owner: "n1" };

describe("deriveOutcome", () => {
  it("reads success, failure and timeout of an action signed by the node it names", () => {
    expect(deriveOutcome(claims("a", "trade", { "dev.tether.node": "n1", "dev.tether.outcome": "ok" }), node, o)).toMatchObject({ observer: "node:n1", subject: "a", outcome: "success" });
    expect(deriveOutcome(claims("a", "trade", { "dev.tether.node": "n1", "dev.tether.outcome": "failed", "dev.tether.error": "ERR_ACTOR_HANDLER_FAILED" }), node, o)).toMatchObject({ outcome: "failure" });
    expect(deriveOutcome(claims("a", "trade", { "dev.tether.node": "n1", "dev.tether.outcome": "failed", "dev.tether.error": "ERR_ASK_TIMEOUT" }), node, o)).toMatchObject({ outcome: "timeout" });
    expect(deriveOutcome(claims("a", "trade", { "dev.tether.node": "n1", "dev.tether.outcome": "refused" }), node, o)).toBeUndefined();
  });

  it("refuses an action signed by another node's key, or by another agent's key", () => {
    expect(deriveOutcome(claims("a", "trade", { "dev.tether.node": "n1", "dev.tether.outcome": "failed" }), { role: "node", owner: "n2" }, o)).toBeTypeOf("string");
    expect(deriveOutcome(claims("a", "trade", { "dev.tether.node": "n1", "dev.tether.outcome": "failed" }), { role: "agent", owner: "b" }, o)).toBeTypeOf("string");
    expect(deriveOutcome(claims("a", "trade", { "dev.tether.node": "n1", "dev.tether.outcome": "failed" }), { role: "operator", owner: "n1" }, o)).toBeTypeOf("string");
    expect(deriveOutcome(claims("a", "trade", { "dev.tether.node": "n1", "dev.tether.outcome": "ok" }), { role: "agent", owner: "a" }, o)).toMatchObject({ outcome: "success" });
  });

  it("counts profile violations only when their response is trust-penalty or quarantine", () => {
    const v = (response: string) => claims("a", "tether.profile.violation", { "dev.tether.node": "n1", "dev.tether.outcome": "refused", "dev.tether.violation": { response } });
    expect(deriveOutcome(v("block"), node, o)).toBeUndefined();
    expect(deriveOutcome(v("escalate"), node, o)).toBeUndefined();
    expect(deriveOutcome(v("trust-penalty"), node, o)).toMatchObject({ outcome: "violation", subject: "a" });
    expect(deriveOutcome(v("trust-penalty"), node, o)).not.toHaveProperty("quarantine");
    expect(deriveOutcome(v("quarantine"), node, o)).toMatchObject({ outcome: "violation", quarantine: true });
  });

  it("counts drift evidence only from a configured verifier, about the agent it names", () => {
    const d = (iss: string) => claims(iss, "tether.verifier.drift", { "dev.tether.node": "n1", "dev.tether.drift": { agent: "a" } });
    expect(deriveOutcome(d("verifier"), node, o)).toMatchObject({ observer: "agent:verifier", subject: "a", outcome: "drift" });
    expect(deriveOutcome(d("mallory"), node, o)).toBeTypeOf("string");
    expect(deriveOutcome(d("verifier"), { role: "node", owner: "n9" }, o)).toBeTypeOf("string");
  });

  it("counts a rollback cause about the agent it blames, only when signed by the node that ran the rollback", () => {
    const r = claims("a", "tether.rollback.caused", { "dev.tether.node": "n1", "dev.tether.outcome": "ok", "dev.tether.rollback": { reason: "wrong batch", compensated: 3 } });
    expect(deriveOutcome(r, node, o)).toMatchObject({ observer: "node:n1", subject: "a", outcome: "rollback-caused" });
    expect(deriveOutcome(r, undefined, o)).toMatchObject({ outcome: "rollback-caused" }); // unsigned: a relaxed network
    expect(deriveOutcome(r, { role: "node", owner: "n2" }, o)).toBeTypeOf("string");
    expect(deriveOutcome(r, { role: "agent", owner: "a" }, o)).toBeTypeOf("string");
    expect(deriveOutcome(r, { role: "operator", owner: "n1" }, o)).toBeTypeOf("string");
    expect(deriveOutcome(claims("a", "tether.rollback.caused", { "dev.tether.outcome": "ok" }), undefined, o)).toBeTypeOf("string");
    expect(deriveOutcome(claims("trust", "tether.rollback.caused", { "dev.tether.node": "n1" }), node, o)).toBeUndefined();
  });

  it("skips reports, votes, compensations, oversight records, built-in actors and other networks", () => {
    for (const act of ["trust.report", "trust.assert", "consensus.vote", "compensate:cancel", "tether.override.ack"]) expect(deriveOutcome(claims("a", act, { "dev.tether.node": "n1", "dev.tether.outcome": "ok" }), node, o)).toBeUndefined();
    expect(deriveOutcome(claims("trust", "trade", { "dev.tether.node": "n1", "dev.tether.outcome": "ok" }), node, o)).toBeUndefined();
    expect(deriveOutcome({ ...claims("a", "trade", { "dev.tether.node": "n1", "dev.tether.outcome": "ok" }), iss: "tether://other/agent/a" } as EctClaims, node, o)).toBeUndefined();
  });
});
