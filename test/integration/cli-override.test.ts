import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { hasCode } from "../../protocols/index.ts";
import { startNode, startServer } from "../support/nats.ts";
import { runTether } from "../support/processes.ts";
import { Worker, keyDir, keyFiles, operatorKeys, startOversight } from "../support/override.ts";

afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

describe("tether stop / overrides (CLI)", () => {
  it("stops an agent and prints coverage; exits non-zero naming the missing actor when an ack is missing at the deadline; lifts", { timeout: 120_000 }, async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    await startOversight(node);
    const { operator } = await operatorKeys(node);
    const signer = keyFiles.get(operator.kid) ?? "";
    const worker = await node.spawn("w-cli", Worker);
    const common = ["--nats", server.url, "--signer", signer];

    const stop = await runTether(["stop", "--agent", "w-cli", "--reason", "from the CLI", "--json", ...common]);
    expect(stop.code).toBe(0);
    const out = JSON.parse(stop.stdout) as { id: string; fraction: number; missing: string[]; escalated: boolean };
    expect(out).toMatchObject({ fraction: 1, missing: [], escalated: false });
    await expect(worker.ask({ type: "work", seq: 1, ms: 0 })).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ACTOR_STOPPED_BY_OVERRIDE"));

    const ghost = await runTether(["pause", "--subtree", "w-cli", "--members", "w-ghost", "--reason", "drill", "--deadline", "1500", ...common]);
    expect(ghost.code).toBe(1);
    expect(ghost.stdout).toContain("1/2 acknowledged; missing: w-ghost");
    expect(ghost.stderr).toContain("ERR_OVERRIDE_NOT_ACKNOWLEDGED");

    const ls = await runTether(["overrides", "ls", "--json", ...common]);
    expect(ls.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { signal: { action: string } }).signal.action).sort()).toEqual(["pause", "stop"]);
    const lift = await runTether(["overrides", "lift", out.id, ...common]);
    expect(lift.code).toBe(0);
    expect(lift.stdout).toContain("1/1 acknowledged");
  });
});
