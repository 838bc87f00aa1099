import { describe, expect, it } from "vitest";
import { appendRecord, canonicalJson, chainOwnRecord, hashRecord, parseRecord, type AppendRecordInput, type LedgerRecord } from "../../../protocols/index.ts";
import { LEDGER_KEY, NOW_MS, buildLedger, expectAuditError } from "./fixtures.ts";

const input = (record: LedgerRecord): AppendRecordInput => ({ network: record.network, kind: record.kind, body: record.body, at: record.at }) as AppendRecordInput;

describe("chainOwnRecord", () => {
  it("gives the record appendRecord gives, and its canonical JSON, for every kind (checkpoints, tokens, events)", async () => {
    const ledger = await buildLedger({ count: 60, checkpointEvery: 7, key: LEDGER_KEY });
    expect(new Set(ledger.map((r) => r.kind))).toEqual(new Set(["ect", "event", "checkpoint"]));
    for (const [i, record] of ledger.entries()) {
      const prev = ledger[i - 1];
      const { record: own, json } = chainOwnRecord(prev, input(record));
      expect(own).toEqual(appendRecord(prev, input(record), { trustedPrev: true }));
      expect(json).toBe(canonicalJson(own));
      expect(hashRecord(JSON.parse(json) as object)).toBe(own.hash);
      expect(parseRecord(JSON.parse(json))).toEqual(own);
    }
  });

  it("hashes keys that sort before or after the record's own members, odd strings and numbers as RFC 8785 does", () => {
    const details = { __proto__x: 1, "": "empty", Z: -0, é: "é\u2028\n\"", "\u{1F600}": [1e21, 0.1, -5e-7, true, null], a: { z: 1, b: 2 } };
    const e: AppendRecordInput = { network: "net-1_x", kind: "event", body: { event: "x.y", subject: "s", details }, at: NOW_MS };
    const first = chainOwnRecord(undefined, e);
    expect(first.record).toEqual(appendRecord(undefined, e));
    expect(first.json).toBe(canonicalJson(first.record));
  });

  it("refuses what appendRecord refuses: a bad body, a lone surrogate, another network, a bad time", () => {
    const ok: AppendRecordInput = { network: "clinic", kind: "event", body: { event: "note", details: {} }, at: NOW_MS };
    const prev = chainOwnRecord(undefined, ok).record;
    expectAuditError(() => chainOwnRecord(prev, { ...ok, body: { event: "Not A Name", details: {} } }), "ERR_AUDIT_RECORD_INVALID");
    expectAuditError(() => chainOwnRecord(prev, { ...ok, body: { event: "note", details: { big: "x".repeat(9_000) } } }), "ERR_AUDIT_RECORD_INVALID");
    expectAuditError(() => chainOwnRecord(prev, { ...ok, body: { event: "note", subject: "\uD800", details: {} } }), "ERR_AUDIT_RECORD_INVALID");
    expectAuditError(() => chainOwnRecord(prev, { ...ok, network: "other" }), "ERR_AUDIT_RECORD_INVALID");
    expectAuditError(() => chainOwnRecord(prev, { ...ok, network: "bad.name" }), "ERR_AUDIT_RECORD_INVALID");
    expectAuditError(() => chainOwnRecord(prev, { ...ok, at: 1.5 }), "ERR_AUDIT_RECORD_INVALID");
    expectAuditError(() => chainOwnRecord({ ...prev, index: Number.MAX_SAFE_INTEGER }, ok), "ERR_AUDIT_RECORD_INVALID");
  });
});
