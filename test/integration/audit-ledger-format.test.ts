import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect, headers as natsHeaders } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { AuditLedger, createAuditLedgerDeps } from "../../actors/index.ts";
import {
  LEDGER_BATCH_FORMAT,
  RECORD_SEAL_HEADER,
  appendRecord,
  canonicalJson,
  checkpointRange,
  networkSubjects,
  parseRecord,
  receiptFor,
  recordSealValid,
  sealRecord,
  signCheckpoint,
  verifyLedger,
  verifyReceipt,
  type AuditReceipt,
  type LedgerRecord,
} from "../../protocols/index.ts";
import { LedgerStream } from "../../runtime/index.ts";
import { startNode, startServer } from "../support/nats.ts";
import { runTether } from "../support/processes.ts";

const keyDir = mkdtempSync(join(tmpdir(), "tether-ledger-format-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

const subjects = networkSubjects("default");
const decoder = new TextDecoder();
const event = (seq: number) => ({ kind: "event" as const, event: "bench.note", details: { seq } });

/** The stored messages of the ledger stream, parsed (a plain client's view). */
const storedMessages = async (url: string): Promise<unknown[]> => {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const { state } = await jsm.streams.info(subjects.auditStream());
    const out: unknown[] = [];
    for (let seq = state.first_seq; seq <= state.last_seq; seq++) out.push(JSON.parse(decoder.decode((await jsm.streams.getMessage(subjects.auditStream(), { seq }))?.data)));
    return out;
  } finally {
    await nc.close();
  }
};

describe("the audit ledger's stream format", () => {
  it("stores an append of many entries as one sealed batch message, a due checkpoint included, with receipts that verify", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url, { assurance: { keyDir } });
    await node.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(node, { keyDir, checkpointEvery: 50 })] });
    const ledger = node.ref<typeof AuditLedger>("audit");
    const entries = Array.from({ length: 60 }, (_, i) => event(i));
    const { receipts } = (await ledger.ask({ type: "tether.audit.v1.append", entries })) as { receipts: AuditReceipt[] };
    expect(receipts.map((r) => ("index" in r ? r.index : -1))).toEqual(entries.map((_, i) => i));

    const messages = await storedMessages(server.url);
    expect(messages).toHaveLength(1); // 60 records and the checkpoint closing them: one message
    const batch = messages[0] as { format: string; records: unknown[] };
    expect(batch.format).toBe(LEDGER_BATCH_FORMAT);
    expect(batch.records).toHaveLength(61);
    const records = (await LedgerStream.readAll(node.nats, node.subjects)).map((r) => parseRecord(r));
    expect(records.map((r) => r.index)).toEqual(Array.from({ length: 61 }, (_, i) => i));
    expect(records.at(-1)).toMatchObject({ kind: "checkpoint", body: { fromIndex: 0, toIndex: 59 } });
    const resolveKey = (kid: string) => node.assurance.keys.resolve(kid);
    expect(await verifyLedger(records, { resolveKey })).toMatchObject({ ok: true, records: 61, checkpoints: 1 });
    const receipt = receiptFor(records, 17);
    expect(receipt.hash).toBe((receipts[17] as { hash: string }).hash);
    expect(await verifyReceipt(receipt, records.at(-1), { resolveKey })).toMatchObject({ ok: true, checkpointIndex: 60 });

    // an export holds one record per line, whatever the stream's layout, and verifies offline
    const exported = await runTether(["audit", "export", "--nats", server.url]);
    expect(exported.stdout.trim().split("\n")).toHaveLength(61);
    const file = join(keyDir, "batch-export.jsonl");
    writeFileSync(file, exported.stdout);
    const offline = await runTether(["audit", "verify", "--nats", server.url, "--file", file]);
    expect({ code: offline.code, stdout: offline.stdout, stderr: offline.stderr }).toEqual({ code: 0, stdout: "ledger OK: 61 records, 1 signed checkpoints verified, no anchor to check against\n", stderr: "" });
  });

  it("resumes a format-1 ledger (one record per message, each sealed), and the mixed ledger verifies", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url, { assurance: { keyDir } });
    const deps = await createAuditLedgerDeps(node, { keyDir, checkpointEvery: 4 });
    const signer = { key: deps.signer.privateKey, kid: deps.signer.kid, alg: "ES256" as const };
    // what an older ledger wrote: bare records, one per message, each sealed over its own hash
    const old: LedgerRecord[] = [];
    for (let i = 0; i < 3; i++) old.push(appendRecord(old.at(-1), { network: "default", kind: "event", body: { event: "legacy.note", details: { i } }, at: Date.now() }));
    const range = checkpointRange(old, 0, 2);
    const signature = await signCheckpoint({ network: "default", ...range, iat: Math.floor(Date.now() / 1000) }, signer);
    old.push(appendRecord(old.at(-1), { network: "default", kind: "checkpoint", body: { ...range, signature }, at: Date.now() }));
    const nc = await connect({ servers: server.url });
    try {
      for (const record of old) {
        const h = natsHeaders();
        h.set(RECORD_SEAL_HEADER, await sealRecord(record.hash, signer));
        await jetstream(nc).publish(subjects.audit(), new TextEncoder().encode(canonicalJson(record)), { headers: h });
      }
    } finally {
      await nc.close();
    }

    await node.spawn("audit", AuditLedger, { args: [deps] });
    const ledger = node.ref<typeof AuditLedger>("audit");
    const { receipts } = (await ledger.ask({ type: "tether.audit.v1.append", entries: [event(1), event(2)] })) as { receipts: AuditReceipt[] };
    expect(receipts).toEqual([expect.objectContaining({ index: 4 }), expect.objectContaining({ index: 5 })]);
    await ledger.ask({ type: "tether.audit.v1.checkpoint" });

    const messages = await storedMessages(server.url);
    expect(messages.slice(0, 4)).toEqual(old.map((r) => JSON.parse(canonicalJson(r)) as unknown));
    expect(messages.slice(4).every((m) => (m as { format?: string }).format === LEDGER_BATCH_FORMAT)).toBe(true);
    const records = (await LedgerStream.readAll(node.nats, node.subjects)).map((r) => parseRecord(r));
    expect(records.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(records.at(-1)).toMatchObject({ kind: "checkpoint", body: { fromIndex: 3, toIndex: 5 } });

    const verify = await runTether(["audit", "verify", "--nats", server.url]);
    expect({ code: verify.code, stdout: verify.stdout, stderr: verify.stderr }).toEqual({
      code: 0,
      stdout: "ledger OK: 7 records, 2 signed checkpoints verified, 2 anchor(s) checked\n",
      stderr: "",
    });
  });

  it("cuts an append larger than a message may be into several sealed messages, read back in order", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url, { assurance: { keyDir } });
    const deps = await createAuditLedgerDeps(node, { keyDir });
    const records: LedgerRecord[] = [];
    const note = "n".repeat(7_000);
    for (let i = 0; i < 300; i++) records.push(appendRecord(records.at(-1), { network: "default", kind: "event", body: { event: "big.note", details: { i, note } }, at: Date.now() }));
    await deps.stream.append(records);
    const messages = (await storedMessages(server.url)) as { format: string; records: unknown[] }[];
    expect(messages.length).toBeGreaterThanOrEqual(3); // ~2.1 MB in messages of at most 1 MiB
    expect(messages.every((m) => m.format === LEDGER_BATCH_FORMAT)).toBe(true);
    expect(messages.flatMap((m) => m.records)).toEqual(records.map((r) => JSON.parse(canonicalJson(r)) as unknown));
    const read = await LedgerStream.read(node.nats, node.subjects, { authenticate: (seal, hash) => recordSealValid(seal, hash, (kid) => node.assurance.keys.resolve(kid)) });
    expect(read.total).toBe(300);
    const back: unknown[] = [];
    for await (const r of read.records) back.push(r);
    expect(back.map((r) => (r as LedgerRecord).index)).toEqual(records.map((r) => r.index));
  });
});
