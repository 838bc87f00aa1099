import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ApprovalClient } from "../../actors/index.ts";
import type { ApprovalRecord } from "../../protocols/index.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";
import { TetherProcess, runTether } from "../support/processes.ts";
import { keyDir, personKey } from "../support/override.ts";

const dir = mkdtempSync(join(tmpdir(), "tether-policies-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(keyDir, { recursive: true, force: true });
});

const policy = {
  id: "dose-bound",
  action: "dispense",
  when: [{ param: "doseMg", op: "gt", ref: { param: "usualMaxMg", times: 2 } }],
  gate: { type: "approval", deciders: { roles: ["approver"] }, timeoutMs: 600_000 },
};
const write = (name: string, text: string): string => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};
const agents = "test/fixtures/approval-node-agents.ts";

describe("tether node start --approval-policies", () => {
  it("loads JSON policies into the node: a matching action waits for a signed approval, others run at once", { timeout: 120_000 }, async () => {
    await using server = await startServer();
    const file = write("policies.json", JSON.stringify([policy]));
    await using child = new TetherProcess(["node", "start", "--nats", server.url, "--node-id", "gated", "--agents", agents, "--approval-policies", file]);
    await child.waitFor(/1 approval policy loaded from .*policies\.json \(dose-bound\)/, 45_000);
    await child.waitFor(/node gated up/, 45_000);
    await using node = await startNode(server.url);
    const approvals = new ApprovalClient().use(node);
    const owner = await personKey(node, "self", "owner", "olivia");
    const approver = await personKey(node, owner, "approver", "dr-house");
    const pharmacist = node.ref("cli-pharmacist");

    expect(await pharmacist.ask({ type: "dispense", action: "dispense", doseMg: 150, usualMaxMg: 100 })).toEqual({ dispensed: 150 }); // within bound: no gate
    const gated = pharmacist.ask({ type: "dispense", action: "dispense", doseMg: 900, usualMaxMg: 100 }, { timeoutMs: 60_000 });
    gated.catch(() => undefined);
    let pending: ApprovalRecord | undefined;
    await eventually(async () => {
      pending = (await approvals.list("pending")).find((r) => r.action === "dispense");
      return pending !== undefined;
    }, 20_000, "a pending approval for the 900 mg dose");
    expect(pending).toMatchObject({ actorId: "cli-pharmacist", policy: "dose-bound" });
    await approvals.decide(approver, pending?.id ?? "", "approve", "checked");
    expect(await gated).toEqual({ dispensed: 900 });
  });

  it("loads an ES module's default export", { timeout: 120_000 }, async () => {
    await using server = await startServer();
    const file = write("policies.mjs", `export default { policies: ${JSON.stringify([policy, { ...policy, id: "wire", action: "wire", when: undefined, minRisk: "high" }])}, risks: { wire: "high" } };\n`);
    await using child = new TetherProcess(["node", "start", "--nats", server.url, "--agents", agents, "--approval-policies", file]);
    await child.waitFor(/2 approval policies loaded from .*policies\.mjs \(dose-bound, wire\)/, 45_000);
  });

  it("refuses a bad policies file with ERR_APPROVAL_POLICIES_INVALID naming the problem, before the node starts", { timeout: 120_000 }, async () => {
    const { gate: _gate, ...noGate } = policy;
    const cases: Array<[string, string, RegExp]> = [
      ["missing-timeout.json", JSON.stringify([{ ...policy, gate: { deciders: { roles: ["approver"] } } }]), /0\.gate\.timeoutMs/],
      ["no-gate.json", JSON.stringify({ policies: [noGate] }), /policies\.0\.gate/],
      ["bad-op.json", JSON.stringify([{ ...policy, when: [{ param: "doseMg", op: "bigger", value: 1 }] }]), /0\.when\.0\.op/],
      ["duplicate.json", JSON.stringify([policy, policy]), /duplicate policy id "dose-bound"/],
      ["not-json.json", "{ policies: ", /not JSON/],
      ["empty.mjs", "export const other = 1;\n", /exports neither a default/],
    ];
    for (const [name, text, problem] of cases) {
      // an unreachable NATS URL: the file is checked before anything connects
      const run = await runTether(["node", "start", "--nats", "nats://127.0.0.1:1", "--agents", agents, "--approval-policies", write(name, text)]);
      expect(run.code, name).toBe(1);
      expect(run.stderr, name).toContain("ERR_APPROVAL_POLICIES_INVALID");
      expect(run.stderr, name).toMatch(problem);
      expect(run.stdout, name).not.toMatch(/ up on /);
    }
    const missing = await runTether(["node", "start", "--nats", "nats://127.0.0.1:1", "--agents", agents, "--approval-policies", join(dir, "nope.json")]);
    expect(missing.stderr).toMatch(/ERR_APPROVAL_POLICIES_INVALID.*ENOENT/);
  });
});
