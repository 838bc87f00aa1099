import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { AuditLedger, createAuditLedgerDeps } from "../../actors/index.ts";
import { canonicalJson, hasCode, parseRecord, verifyLedger, type LedgerRecord } from "../../protocols/index.ts";
import { LedgerStream, type Node, type NodeOptionsInput } from "../../runtime/index.ts";
import { Stepper } from "../support/chain-actors.ts";
import { startNode, startServer } from "../support/nats.ts";

const keyDir = mkdtempSync(join(tmpdir(), "tether-audit-keys-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

const regulated = (ledger: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): NodeOptionsInput => ({
  assurance: { profile: "regulated", keyDir, ledger, ...extra } as NodeOptionsInput["assurance"],
});

const startLedger = async (url: string, options: { allowDelete?: boolean; checkpointEvery?: number } = {}): Promise<Node> => {
  const node = await startNode(url, regulated());
  await node.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(node, { keyDir, checkpointEvery: options.checkpointEvery ?? 4, ...options })] });
  return node;
};

const readLedger = async (node: Node) => LedgerStream.readAll(node.nats, node.subjects);
const resolveKey = (node: Node) => (kid: string) => node.assurance.keys.resolve(kid);

const hops = [
  { actor: "intake", action: "review_requirements_spec" },
  { actor: "builder", action: "implement_module" },
  { actor: "tester", action: "execute_test_suite" },
];

describe("the audit ledger (regulated profile)", () => {
  it("appends every action's ECT with a receipt before the action returns, under signed checkpoints that verify", async () => {
    await using server = await startServer();
    await using ledger = await startLedger(server.url);
    await using n1 = await startNode(server.url, regulated());
    await using n2 = await startNode(server.url, regulated());
    await n1.spawn("intake", Stepper);
    await n2.spawn("builder", Stepper);
    await n1.spawn("tester", Stepper);
    const r = await n1.ref<typeof Stepper>("intake").ask({ type: "step", hops });
    expect(r.actions).toEqual(hops.map((h) => h.action));
    await ledger.ref<typeof AuditLedger>("audit").ask({ type: "tether.audit.v1.checkpoint" });
    const records = (await readLedger(ledger)).map((r) => parseRecord(r));
    const ects = records.filter((r): r is Extract<LedgerRecord, { kind: "ect" }> => r.kind === "ect");
    expect(ects.map((e) => e.body.exec_act)).toEqual(hops.map((h) => h.action));
    expect(ects.every((e) => e.body.level === "L3" && e.body.wid === r.wid)).toBe(true);
    expect(ects[1]?.body.par).toEqual([ects[0]?.body.jti]);
    expect(records.some((rec) => rec.kind === "checkpoint")).toBe(true);
    const verdict = await verifyLedger(records, { resolveKey: resolveKey(ledger) });
    expect(verdict).toMatchObject({ ok: true });
    expect(verdict.checkpoints).toBeGreaterThan(0);
  });

  it("holds dependent work when the ledger stops mid-run (fail policy), and resumes the chain when it returns", async () => {
    await using server = await startServer();
    const ledger = await startLedger(server.url);
    await using n1 = await startNode(server.url, regulated({ onUnavailable: "fail", timeoutMs: 1_000 }));
    const log: string[] = [];
    await n1.spawn("intake", Stepper, { args: [log] });
    await n1.spawn("builder", Stepper, { args: [log] });
    await n1.ref<typeof Stepper>("intake").ask({ type: "step", hops: hops.slice(0, 2) });
    await ledger.close(); // the ledger goes away
    const err = await n1.ref<typeof Stepper>("intake").ask({ type: "step", hops: hops.slice(0, 2) }).catch((e: unknown) => e);
    expect(hasCode(err, "ERR_LEDGER_UNAVAILABLE")).toBe(true);
    // the first action ran (its effect is in the log), but the dependent step never started
    expect(log).toEqual(["review_requirements_spec", "implement_module", "review_requirements_spec"]);
    await using back = await startLedger(server.url);
    await n1.ref<typeof Stepper>("intake").ask({ type: "step", hops: hops.slice(0, 2) });
    await back.ref<typeof AuditLedger>("audit").ask({ type: "tether.audit.v1.checkpoint" });
    expect(await verifyLedger(await readLedger(back), { resolveKey: resolveKey(back) })).toMatchObject({ ok: true });
  });

  it("waits for a ledger that comes back within the timeout (wait policy)", async () => {
    await using server = await startServer();
    await using n1 = await startNode(server.url, regulated({ onUnavailable: "wait", timeoutMs: 8_000 }));
    await n1.spawn("intake", Stepper);
    const pending = n1.ref<typeof Stepper>("intake").ask({ type: "step", hops: hops.slice(0, 1) }, { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 500));
    await using ledger = await startLedger(server.url);
    expect((await pending).actions).toEqual(["review_requirements_spec"]);
    expect((await readLedger(ledger)).length).toBeGreaterThan(0);
  });

  it("marks tokens L2 in async mode, which a node requiring L3 refuses", async () => {
    await using server = await startServer();
    await using _ledger = await startLedger(server.url); // async appends still go to a ledger
    await using lax = await startNode(server.url, regulated({ mode: "async" }));
    await using strict = await startNode(server.url, regulated());
    await lax.spawn("intake", Stepper);
    await strict.spawn("builder", Stepper);
    expect(lax.assurance.level).toBe("L2");
    const err = await lax.ref<typeof Stepper>("intake").ask({ type: "step", hops: hops.slice(0, 2) }).catch((e: unknown) => e);
    expect(hasCode(err, "ERR_ECT_LEVEL_TOO_LOW")).toBe(true);
  });

  it("detects a record deleted from, or forged into, the live stream at the right index", async () => {
    await using server = await startServer();
    await using ledger = await startLedger(server.url, { allowDelete: true, checkpointEvery: 100 });
    await using n1 = await startNode(server.url, regulated());
    await n1.spawn("intake", Stepper);
    await n1.spawn("builder", Stepper);
    for (let i = 0; i < 3; i++) await n1.ref<typeof Stepper>("intake").ask({ type: "step", hops: hops.slice(0, 2) });
    const original = (await readLedger(ledger)).map((r) => parseRecord(r));
    expect(original).toHaveLength(6);
    expect(await verifyLedger(original, { resolveKey: resolveKey(ledger) })).toMatchObject({ ok: true });

    const nc = await connect({ servers: server.url });
    try {
      const jsm = await jetstreamManager(nc);
      const stream = ledger.subjects.auditStream();
      await jsm.streams.deleteMessage(stream, 3); // stream seq 3 = record index 2
      const afterDelete = await verifyLedger(await readLedger(ledger), { resolveKey: resolveKey(ledger) });
      expect(afterDelete.ok).toBe(false);
      expect(afterDelete.firstProblem).toMatchObject({ position: 2, problem: "deleted" });

      // a forged record appended at the end, copying the last record's slot
      const last = original.at(-1) as LedgerRecord;
      const forged = { ...last, at: last.at + 1 };
      await jetstream(nc).publish(ledger.subjects.audit(), new TextEncoder().encode(canonicalJson(forged)));
      const withForgery = (await readLedger(ledger)).map((r) => r);
      const verdict = await verifyLedger(withForgery, { resolveKey: resolveKey(ledger) });
      expect(verdict.ok).toBe(false);
    } finally {
      await nc.close();
    }
  });
});
