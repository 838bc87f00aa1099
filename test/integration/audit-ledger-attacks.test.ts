import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { AuditLedger, createAuditLedgerDeps } from "../../actors/index.ts";
import {
  RECORD_SEAL_HEADER,
  appendRecord,
  canonicalJson,
  encodeLedgerBatch,
  ledgerMessageRecords,
  networkSubjects,
  parseRecord,
  safeParseRecord,
  type LedgerRecord,
} from "../../protocols/index.ts";
import { LedgerStream, type Node, type NodeOptionsInput } from "../../runtime/index.ts";
import { Stepper } from "../support/chain-actors.ts";
import { startNode, startServer } from "../support/nats.ts";
import { runTether } from "../support/processes.ts";

const keyDir = mkdtempSync(join(tmpdir(), "tether-ledger-attack-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

const regulated = (): NodeOptionsInput => ({ assurance: { profile: "regulated", keyDir } });
const subjects = networkSubjects("default");
const hops = [
  { actor: "intake", action: "review_requirements_spec" },
  { actor: "builder", action: "implement_module" },
];

const startLedger = async (url: string, options: { allowDelete?: boolean } = {}): Promise<Node> => {
  const node = await startNode(url, regulated());
  await node.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(node, { keyDir, checkpointEvery: 4, ...options })] });
  return node;
};

/**
 * The attacker: a plain NATS client that reads the ledger's last record and publishes a well-formed
 * successor: a bare record (format 1), or a batch message (format 2) of two forged records carrying
 * the seal header of the ledger's own last message (a replayed seal over another hash).
 */
const forgeApproval = async (nc: NatsConnection, form: "record" | "batch-with-copied-seal" = "record"): Promise<number> => {
  const jsm = await jetstreamManager(nc);
  const last = await jsm.streams.getMessage(subjects.auditStream(), { last_by_subj: subjects.audit() });
  const prev = parseRecord(ledgerMessageRecords(JSON.parse(new TextDecoder().decode(last?.data))).at(-1));
  const approval = (p: LedgerRecord, who: string) =>
    appendRecord(p, { network: "default", kind: "event", body: { event: "approval.granted", subject: who, details: { by: "nobody" } }, at: Date.now() });
  const forged = approval(prev, "mallory");
  if (form === "record") return (await jetstream(nc).publish(subjects.audit(), new TextEncoder().encode(canonicalJson(forged)))).seq;
  const seal = last?.header?.get(RECORD_SEAL_HEADER) ?? "";
  expect(seal).not.toBe("");
  const h = natsHeaders();
  h.set(RECORD_SEAL_HEADER, seal);
  const body = encodeLedgerBatch([canonicalJson(forged), canonicalJson(approval(forged, "trudy"))]);
  return (await jetstream(nc).publish(subjects.audit(), new TextEncoder().encode(body), { headers: h })).seq;
};

const violations = (records: unknown[]): LedgerRecord[] =>
  records.map((r) => safeParseRecord(r)).filter((r): r is LedgerRecord => r?.kind === "event" && r.body.event === "violation");

describe("the audit ledger against a client on the bus", () => {
  it("skips a forged publish onto the ledger subject: the next regulated action succeeds, the forgery is reported, verify passes with a note", async () => {
    await using server = await startServer();
    await using ledger = await startLedger(server.url);
    await using node = await startNode(server.url, regulated());
    await node.spawn("intake", Stepper);
    await node.spawn("builder", Stepper);
    await node.ref<typeof Stepper>("intake").ask({ type: "step", hops });
    const attacker = await connect({ servers: server.url });
    try {
      const forged = await forgeApproval(attacker);
      const garbage = (await jetstream(attacker).publish(subjects.audit(), new TextEncoder().encode('{"not":"a record"}'))).seq;
      const r = await node.ref<typeof Stepper>("intake").ask({ type: "step", hops });
      expect(r.actions).toEqual(hops.map((h) => h.action));
      await ledger.ref<typeof AuditLedger>("audit").ask({ type: "tether.audit.v1.checkpoint" });
      const reported = violations(await LedgerStream.readAll(ledger.nats, subjects)).flatMap((v) => (v.body as { details: { streamSequences?: number[] } }).details.streamSequences ?? []);
      expect(reported).toEqual(expect.arrayContaining([garbage, forged]));
    } finally {
      await attacker.close();
    }
    const verify = await runTether(["audit", "verify", "--nats", server.url]);
    expect({ code: verify.code, stderr: verify.stderr }).toMatchObject({ code: 0, stderr: "" });
    expect(verify.stdout).toMatch(/ledger OK: .*2 foreign record\(s\) skipped/);
  });

  it("does not adopt a well-formed record published while the ledger was stopped, and reports it on restart", async () => {
    await using server = await startServer();
    const first = await startLedger(server.url);
    await using node = await startNode(server.url, regulated());
    await node.spawn("intake", Stepper);
    await node.spawn("builder", Stepper);
    await node.ref<typeof Stepper>("intake").ask({ type: "step", hops });
    await first.close();
    const attacker = await connect({ servers: server.url });
    const forged = await forgeApproval(attacker).finally(() => attacker.close());
    await using back = await startLedger(server.url);
    await node.ref<typeof Stepper>("intake").ask({ type: "step", hops });
    await back.ref<typeof AuditLedger>("audit").ask({ type: "tether.audit.v1.checkpoint" });
    const raw = await LedgerStream.readAll(back.nats, subjects);
    const v = violations(raw).map((x) => (x.body as { details: { streamSequences?: number[] } }).details.streamSequences);
    expect(v).toContainEqual([forged]);
    const verify = await runTether(["audit", "verify", "--nats", server.url]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(new RegExp(`1 foreign record\\(s\\) skipped .* at stream sequence ${forged}`));
    // the genuine chain never links to the forged record
    const exported = (await runTether(["audit", "export", "--nats", server.url])).stdout.trim().split("\n").map((l) => parseRecord(JSON.parse(l)));
    expect(exported.some((r) => r.kind === "event" && r.body.event === "approval.granted")).toBe(false);
  });

  it("skips a forged batch message carrying a seal copied from a genuine one, live and on restart", async () => {
    await using server = await startServer();
    await using first = await startLedger(server.url);
    await using node = await startNode(server.url, regulated());
    await node.spawn("intake", Stepper);
    await node.spawn("builder", Stepper);
    await node.ref<typeof Stepper>("intake").ask({ type: "step", hops });
    const attacker = await connect({ servers: server.url });
    try {
      const live = await forgeApproval(attacker, "batch-with-copied-seal");
      const r = await node.ref<typeof Stepper>("intake").ask({ type: "step", hops });
      expect(r.actions).toEqual(hops.map((h) => h.action));
      await first.close();
      const whileStopped = await forgeApproval(attacker, "batch-with-copied-seal");
      await using back = await startLedger(server.url);
      await node.ref<typeof Stepper>("intake").ask({ type: "step", hops });
      await back.ref<typeof AuditLedger>("audit").ask({ type: "tether.audit.v1.checkpoint" });
      const reported = violations(await LedgerStream.readAll(back.nats, subjects)).flatMap((v) => (v.body as { details: { streamSequences?: number[] } }).details.streamSequences ?? []);
      expect(reported).toEqual(expect.arrayContaining([live, whileStopped]));
      const verify = await runTether(["audit", "verify", "--nats", server.url]);
      expect({ code: verify.code, stderr: verify.stderr }).toEqual({ code: 0, stderr: "" });
      expect(verify.stdout).toMatch(new RegExp(`ledger OK: .*2 foreign record\\(s\\) skipped .* at stream sequence ${live}, ${whileStopped}`));
      const exported = (await runTether(["audit", "export", "--nats", server.url])).stdout.trim().split("\n").map((l) => parseRecord(JSON.parse(l)));
      expect(exported.some((x) => x.kind === "event" && x.body.event === "approval.granted")).toBe(false);
      expect(exported.filter((x) => x.kind === "ect")).toHaveLength(3 * hops.length);
    } finally {
      await attacker.close();
    }
  });

  it("fails verify, naming deletion against the anchor, when the whole ledger stream is deleted", async () => {
    await using server = await startServer();
    const ledger = await startLedger(server.url);
    await using node = await startNode(server.url, regulated());
    await node.spawn("intake", Stepper);
    await node.spawn("builder", Stepper);
    await node.ref<typeof Stepper>("intake").ask({ type: "step", hops });
    await ledger.close();
    const out = join(keyDir, "anchor.json");
    const anchored = await runTether(["audit", "anchor", "--nats", server.url, "--out", out]);
    expect(anchored.code).toBe(0);
    expect(JSON.parse(readFileSync(out, "utf8"))).toMatchObject({ network: "default", index: expect.any(Number), hash: expect.any(String), signature: expect.any(String) });
    const attacker = await connect({ servers: server.url });
    await (await jetstreamManager(attacker)).streams.delete(subjects.auditStream());
    await attacker.close();
    const verify = await runTether(["audit", "verify", "--nats", server.url, "--anchor", out]);
    expect(verify.code).toBe(1);
    expect(verify.stdout).not.toMatch(/OK/);
    expect(verify.stderr).toMatch(/shorter than its last anchor.*deleted/);
  });

  it("fails verify when the tail after the last checkpoint is truncated", async () => {
    await using server = await startServer();
    await using ledger = await startLedger(server.url, { allowDelete: true });
    await using node = await startNode(server.url, regulated());
    await node.spawn("intake", Stepper);
    await node.spawn("builder", Stepper);
    await node.ref<typeof Stepper>("intake").ask({ type: "step", hops });
    await ledger.ref<typeof AuditLedger>("audit").ask({ type: "tether.audit.v1.checkpoint" });
    await node.ref<typeof Stepper>("intake").ask({ type: "step", hops }); // records after the last checkpoint
    expect((await runTether(["audit", "verify", "--nats", server.url])).code).toBe(0);
    const jsm = await jetstreamManager(ledger.nats);
    const info = await jsm.streams.info(subjects.auditStream());
    await jsm.streams.deleteMessage(subjects.auditStream(), info.state.last_seq);
    const verify = await runTether(["audit", "verify", "--nats", server.url]);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(/shorter than its last anchor/);
  });

  it("reports a well-formed forged event appended after the last record as foreign, never as part of the ledger", async () => {
    await using server = await startServer();
    await using ledger = await startLedger(server.url);
    await using node = await startNode(server.url, regulated());
    await node.spawn("intake", Stepper);
    await node.spawn("builder", Stepper);
    await node.ref<typeof Stepper>("intake").ask({ type: "step", hops });
    await ledger.ref<typeof AuditLedger>("audit").ask({ type: "tether.audit.v1.checkpoint" });
    const attacker = await connect({ servers: server.url });
    const forged = await forgeApproval(attacker).finally(() => attacker.close());
    const verify = await runTether(["audit", "verify", "--nats", server.url]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(new RegExp(`1 foreign record\\(s\\) skipped .* at stream sequence ${forged}`));
    // an export holds only the ledger's records, and verifies without --network (its records name it)
    const file = join(keyDir, "export.jsonl");
    writeFileSync(file, (await runTether(["audit", "export", "--nats", server.url])).stdout);
    const offline = await runTether(["audit", "verify", "--nats", server.url, "--file", file]);
    expect({ code: offline.code, stderr: offline.stderr }).toEqual({ code: 0, stderr: "" });
  });
});
