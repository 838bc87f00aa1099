import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { AuditLedger, OverrideActor, OverrideClient, createAuditLedgerDeps, createOverridePorts } from "../../actors/index.ts";
import { OVERRIDE_ACTOR_ID, OverrideEscalation, decodeBody, overrideSubjects } from "../../protocols/index.ts";
import { FakeClock } from "../../runtime/index.ts";
import { eventually, startCluster, startNode } from "../support/nats.ts";
import { TetherProcess } from "../support/processes.ts";
import { Worker, keyDir, ledgerEvents, operatorKeys } from "../support/override.ts";

afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

describe("acknowledgement deadlines after the override actor fails over (3-node cluster)", () => {
  it("the new owner re-arms the deadlines of signals issued before: what was acknowledged counts, a missing ack still escalates (event and ledger record)", { timeout: 120_000 }, async () => {
    await using cluster = await startCluster();
    const [u1, u2, u3] = cluster.urls as [string, string, string];
    const fast = { jetstreamReplicas: 3, heartbeatMs: 500, leaseTtlMs: 3_000 };
    // the override actor starts on a node process that will be SIGKILLed
    await using victim = new TetherProcess(["node", "start", "--nats", u1, "--replicas", "3", "--lease-ms", "3000", "--node-id", "ov-victim", "--overrides", "--agents", "test/fixtures/override-agents.ts"]);
    await victim.waitFor(/node ov-victim up .*hosting .*tether-override/, 45_000);
    await using b = await startNode(u2, { ...fast, nodeId: "ov-b" });
    await using c = await startNode(u3, { ...fast, nodeId: "ov-c" });
    await b.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(b, { keyDir, checkpointEvery: 1000 })] });
    const clock = new FakeClock(Date.now()); // the survivors' override deadlines run on it
    for (const n of [b, c]) n.registerType(OverrideActor, { args: [await createOverridePorts(n, { clock })] });
    await c.spawn("w-here", Worker);
    await b.spawn("w-there", Worker);
    const { operator } = await operatorKeys(b);
    const client = new OverrideClient({ nc: b.nats, signer: operator });
    const escalations: OverrideEscalation[] = [];
    b.nats.subscribe(overrideSubjects(b.network).escalations("x").replace(/\.x$/, ".*"), { callback: (_e, m) => void escalations.push(OverrideEscalation.parse(decodeBody(m.data))) });
    await b.nats.flush();

    // one signal with an actor that will never acknowledge, one fully acknowledged; a minute to go
    let partial: Awaited<ReturnType<typeof client.issue>> | undefined;
    const partialDone = client.issue({ action: "pause", scope: { kind: "subtree", id: "w-here", members: ["w-ghost"] }, reason: "drill", ackDeadlineMs: 60_000 }).then((o) => (partial = o));
    partialDone.catch(() => undefined);
    await eventually(() => c.overrides.active().length === 1, 10_000, "the pause applied on c");
    const full = await client.issue({ action: "constrain", scope: { kind: "agent", id: "w-there" }, reason: "cap", constraints: { maxActsPerSecond: 5 }, ackDeadlineMs: 60_000 });
    expect(full.coverage.complete).toBe(true);

    victim.child.kill("SIGKILL"); // the override actor dies with both deadlines armed
    await victim.exited;
    await eventually(() => b.localActors().includes(OVERRIDE_ACTOR_ID) || c.localActors().includes(OVERRIDE_ACTOR_ID), 40_000, "override actor failed over");
    await eventually(() => clock.pending === 2, 20_000, "both deadlines re-armed by the new owner");
    expect(escalations).toEqual([]);

    clock.advance(61_000);
    await eventually(() => escalations.length === 1, 10_000, "the missing ack escalated");
    expect(escalations[0]).toMatchObject({ expected: 2, acked: 1, missing: ["w-ghost"] }); // w-here acknowledged to the old owner
    await partialDone;
    expect(partial?.escalated).toBe(true); // the issuer hears it from the new owner
    await eventually(async () => (await ledgerEvents(b, "override.escalated")).length === 1, 10_000, "escalation record");
    expect((await ledgerEvents(b, "override.escalated"))[0]).toMatchObject({ subject: partial?.id, missing: ["w-ghost"], rearmed: true });
    // the fully acknowledged constrain does not escalate; both are settled, so no later owner re-arms them
    await eventually(async () => ((await client.list()) as { id: string }[]).length === 2, 5_000, "still active");
    const store = await createOverridePorts(b);
    await eventually(async () => (await store.store.list()).every((r) => r.settledAt !== undefined), 10_000, "records settled").catch(async (error: unknown) => {
      throw new Error(`${String(error)}: ${JSON.stringify((await store.store.list()).map((r) => [r.id, r.signal.action, r.settledAt]))}; ${JSON.stringify(await ledgerEvents(b, "override.settle.failed"))}`);
    });
    expect(escalations).toHaveLength(1);
  });
});
