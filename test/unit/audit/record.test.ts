import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isValidToken } from "../../../protocols/index.ts";
import {
  appendRecord,
  AUDIT_RECORD_TYPE,
  canonicalJson,
  GENESIS_HASH,
  hashRecord,
  LedgerRecord,
  parseRecord,
  type AppendRecordInput,
} from "../../../protocols/index.ts";
import { ectBody, expectAuditError, NOW_MS, NOW_S, signedToken, unsignedToken, type EctClaims } from "./fixtures.ts";

const claims: EctClaims = {
  iss: "spiffe://example.com/agent/a",
  aud: ["spiffe://example.com/agent/b"],
  jti: "550e8400-e29b-41d4-a716-446655440000",
  iat: NOW_S,
  exp: NOW_S + 600,
  exec_act: "review_spec",
  par: [],
};
const event: AppendRecordInput = {
  network: "clinic",
  kind: "event",
  body: { event: "key.rotated", subject: "node-1", details: { from: "k1", to: "k2" } },
  at: NOW_MS,
};
const genesis = appendRecord(undefined, event);
const valid = (): Record<string, unknown> => JSON.parse(JSON.stringify(genesis)) as Record<string, unknown>;

describe("appendRecord", () => {
  it("starts the chain at index 0 with the genesis prevHash", () => {
    expect(genesis).toMatchObject({ type: AUDIT_RECORD_TYPE, network: "clinic", index: 0, prevHash: GENESIS_HASH, kind: "event" });
    expect(GENESIS_HASH).toBe("A".repeat(43));
  });

  it("sets hash to base64url(SHA-256(canonical JSON of the record without hash))", () => {
    const { hash, ...rest } = genesis;
    const expected = createHash("sha256").update(canonicalJson(rest), "utf8").digest("base64url");
    expect(hash).toBe(expected);
    expect(hashRecord(genesis)).toBe(expected);
  });

  it("links each record to the previous one's hash and counts up the index", () => {
    const next = appendRecord(genesis, { network: "clinic", kind: "ect", body: ectBody(unsignedToken(claims), claims, "L1"), at: NOW_MS + 1 });
    expect(next.index).toBe(1);
    expect(next.prevHash).toBe(genesis.hash);
    expect(next.hash).toBe(hashRecord(next));
  });

  it("takes a signed token at L2 and L3", async () => {
    const token = await signedToken(claims);
    const record = appendRecord(genesis, { network: "clinic", kind: "ect", body: ectBody(token, claims, "L3"), at: NOW_MS });
    expect(record.kind === "ect" && record.body.level).toBe("L3");
  });

  it("refuses a record of another network than the previous one", () => {
    expectAuditError(() => appendRecord(genesis, { ...event, network: "pharmacy" }), "ERR_AUDIT_RECORD_INVALID");
  });

  it("refuses a previous record whose hash does not match its content", () => {
    expectAuditError(() => appendRecord({ ...genesis, at: NOW_MS + 5 }, event), "ERR_AUDIT_RECORD_INVALID");
  });

  it("refuses a body that does not fit its kind", () => {
    const wrong = { ...event, kind: "ect" } as unknown as AppendRecordInput;
    expectAuditError(() => appendRecord(undefined, wrong), "ERR_AUDIT_RECORD_INVALID");
  });
});

describe("parseRecord", () => {
  it("accepts a record as read back from JSON", () => {
    expect(parseRecord(valid())).toEqual(genesis);
  });

  const cases: [string, (record: Record<string, unknown>) => void][] = [
    ["an unknown top-level field", (r) => (r["extra"] = 1)],
    ["another wire type", (r) => (r["type"] = "tether.audit.v2.record")],
    ["an unknown kind", (r) => (r["kind"] = "note")],
    ["a negative index", (r) => (r["index"] = -1)],
    ["a fractional at", (r) => (r["at"] = 1.5)],
    ["a prevHash that is not a digest", (r) => (r["prevHash"] = "abc")],
    ["a hash with padding", (r) => (r["hash"] = `${String(r["hash"]).slice(0, 42)}=`)],
    ["a network that is not a subject token", (r) => (r["network"] = "clinic.*")],
    ["an event name with spaces", (r) => ((r["body"] as Record<string, unknown>)["event"] = "key rotated")],
    ["event details that are not an object", (r) => ((r["body"] as Record<string, unknown>)["details"] = [1])],
    ["event details over 8 KiB", (r) => ((r["body"] as Record<string, unknown>)["details"] = { big: "x".repeat(9000) })],
    ["a lone surrogate in a string", (r) => ((r["body"] as Record<string, unknown>)["subject"] = "a\ud800")],
    ["an unknown body field", (r) => ((r["body"] as Record<string, unknown>)["more"] = true)],
  ];
  it.each(cases)("refuses %s with ERR_AUDIT_RECORD_INVALID", (_name, change) => {
    const record = valid();
    change(record);
    expectAuditError(() => parseRecord(record), "ERR_AUDIT_RECORD_INVALID");
  });

  it.each([null, "record", 42, [], {}])("refuses %j", (value) => {
    expectAuditError(() => parseRecord(value), "ERR_AUDIT_RECORD_INVALID");
  });

  const ect = (body: Record<string, unknown>) => ({ ...valid(), kind: "ect", body });
  const base = ectBody(unsignedToken(claims), claims, "L1");

  it("refuses an L1 body holding a JWS and an L2 body holding an unsigned token", async () => {
    const jws = await signedToken(claims);
    expectAuditError(() => parseRecord(ect({ ...base, token: jws })), "ERR_AUDIT_RECORD_INVALID");
    expectAuditError(() => parseRecord(ect({ ...base, level: "L2" })), "ERR_AUDIT_RECORD_INVALID");
  });

  it("refuses an ECT body past its bounds", () => {
    expectAuditError(() => parseRecord(ect({ ...base, token: "a".repeat(16_385) })), "ERR_AUDIT_RECORD_INVALID");
    expectAuditError(() => parseRecord(ect({ ...base, par: Array.from({ length: 101 }, (_, i) => `p${i}`) })), "ERR_AUDIT_RECORD_INVALID");
    expectAuditError(() => parseRecord(ect({ ...base, ext: { "dev.tether.x": "y".repeat(4100) } })), "ERR_AUDIT_RECORD_INVALID");
    expectAuditError(() => parseRecord(ect({ ...base, jti: "" })), "ERR_AUDIT_RECORD_INVALID");
  });

  it("refuses a checkpoint whose range runs backwards", () => {
    const body = { fromIndex: 5, toIndex: 4, merkleRoot: GENESIS_HASH, lastHash: GENESIS_HASH, signature: "a.b.c" };
    expectAuditError(() => parseRecord({ ...valid(), kind: "checkpoint", body }), "ERR_AUDIT_RECORD_INVALID");
    expect(LedgerRecord.safeParse({ ...valid(), kind: "checkpoint", body: { ...body, toIndex: 5 } }).success).toBe(true);
  });

  it("accepts exactly the network names that are subject tokens", () => {
    for (const network of ["clinic", "a", "A-1_b", "x".repeat(128), "x".repeat(129), "-a", "a.b", "a b", "", "é"]) {
      expect(LedgerRecord.safeParse({ ...valid(), network }).success, network).toBe(isValidToken(network));
    }
  });
});
