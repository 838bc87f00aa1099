import { describe, expect, it } from "vitest";
import { LEDGER_BATCH_FORMAT, canonicalJson, chainedMessageRecords, encodeLedgerBatch, ledgerMessageRecords, type LedgerRecord } from "../../../protocols/index.ts";
import { buildLedger, copy } from "./fixtures.ts";

const message = (records: readonly unknown[]): unknown => JSON.parse(encodeLedgerBatch(records.map((r) => canonicalJson(r))));

describe("ledger stream messages (format 2 batches, format 1 records)", () => {
  it("encodes a batch as canonical JSON holding the records in order", async () => {
    const records = await buildLedger({ count: 5 });
    const text = encodeLedgerBatch(records.map((r) => canonicalJson(r)));
    expect(canonicalJson(JSON.parse(text))).toBe(text);
    expect(JSON.parse(text)).toEqual({ format: LEDGER_BATCH_FORMAT, records: copy(records) });
    expect(ledgerMessageRecords(JSON.parse(text))).toEqual(copy(records));
  });

  it("reads a format-1 message (a bare record) and anything else as one value, reported where it stands", async () => {
    const [record] = await buildLedger({ count: 1 });
    expect(ledgerMessageRecords(copy(record))).toEqual([copy(record)]);
    for (const odd of ["text", null, 7, [], { format: "tether.audit.v9.batch", records: [record] }, { format: LEDGER_BATCH_FORMAT, records: [] }, { format: LEDGER_BATCH_FORMAT, records: [record], extra: 1 }]) {
      expect(ledgerMessageRecords(odd)).toEqual([odd]);
    }
  });

  it("accepts a message's records only when each is sound and links to the one before it", async () => {
    const records = await buildLedger({ count: 12, checkpointEvery: 5 });
    expect(chainedMessageRecords(message(records.slice(3, 9)))).toEqual(records.slice(3, 9));
    expect(chainedMessageRecords(copy(records[4]))).toEqual([records[4]]);

    const edited = copy(records.slice(3, 9)) as Record<string, unknown>[];
    (edited[2] as { at: number }).at += 1; // content edited, hash kept
    expect(chainedMessageRecords(message(edited))).toBeUndefined();
    const gap = [records[3], records[5]] as LedgerRecord[]; // both sound, not consecutive
    expect(chainedMessageRecords(message(gap))).toBeUndefined();
    const swapped = [records[4], records[3]] as LedgerRecord[];
    expect(chainedMessageRecords(message(swapped))).toBeUndefined();
    const other = await buildLedger({ count: 12, checkpointEvery: 5, network: "other", seed: 1 });
    expect(chainedMessageRecords(message([records[0], other[1]]))).toBeUndefined();
    expect(chainedMessageRecords({ format: LEDGER_BATCH_FORMAT, records: [copy(records[0]), "junk"] })).toBeUndefined();
    expect(chainedMessageRecords({ not: "a record" })).toBeUndefined();
  });
});
