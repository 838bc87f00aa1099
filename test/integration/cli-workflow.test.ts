import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startServer } from "../support/nats.ts";
import { TetherProcess, runTether } from "../support/processes.ts";

const dir = mkdtempSync(join(tmpdir(), "tether-cli-workflow-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("tether workflow", () => {
  it("runs a workflow file with live progress, shows its DAG by id, and refuses a malformed file naming the step", async () => {
    await using server = await startServer();
    await using node = new TetherProcess(["node", "start", "--nats", server.url, "--node-id", "wf-host", "--agents", "test/fixtures/workflow-cli-agents.ts"]);
    await node.waitFor(/node wf-host up/, 60_000);
    const good = join(dir, "good.json");
    writeFileSync(
      good,
      JSON.stringify({
        name: "cli-chain",
        steps: [
          { id: "first", agent: "s-a", message: { type: "work" }, input: { value: { from: "input", path: "start" } } },
          { id: "second", agent: "s-b", message: { type: "work" }, dependsOn: ["first"], input: { value: { from: "step", step: "first", path: "value" } } },
          { id: "third", agent: "s-c", message: { type: "work" }, dependsOn: ["first"] },
        ],
      }),
    );
    const run = await runTether(["workflow", "run", good, "--input", '{"start":40}', "--nats", server.url]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const wid = /workflow ([0-9a-f-]{36}) started on wf-host/.exec(run.stdout)?.[1];
    expect(wid).toBeDefined();
    expect(run.stdout).toContain("✓ second done");
    expect(run.stdout).toMatch(/workflow cli-chain \(.*\): done/);

    const status = await runTether(["workflow", "status", wid ?? "", "--json", "--nats", server.url]);
    const parsed = JSON.parse(status.stdout) as { status: string; steps: Record<string, { output: { value: number } }> };
    expect(parsed.status).toBe("done");
    expect(parsed.steps["second"]?.output.value).toBe(42);

    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ name: "bad", steps: [{ id: "lonely", agent: "s-a", message: { type: "work" }, dependsOn: ["missing"] }] }));
    const refused = await runTether(["workflow", "run", bad, "--nats", server.url]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/ERR_WORKFLOW_INVALID|lonely/);
    expect(refused.stderr).toContain("lonely");
  }, 240_000);
});
