import { base64url, CompactSign, decodeProtectedHeader } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { TetherError } from "../../../protocols/index.ts";
import {
  CHECKPOINT_TYP,
  checkpointRange,
  merkleRoot,
  receiptFor,
  signCheckpoint,
  verifyCheckpointSignature,
  verifyReceipt,
  type CheckpointRecord,
  type LedgerRecord,
} from "../../../protocols/index.ts";
import {
  buildLedger,
  ed25519Key,
  expectAuditError,
  expectAuditRejection,
  fakeDigest,
  keyring,
  LEDGER_KEY,
  NOW_S,
  OTHER_LEDGER_KEY,
  resolveKey,
  seeded,
  type TestKey,
} from "./fixtures.ts";

const random = seeded(8);
const payload = {
  network: "clinic",
  fromIndex: 0,
  toIndex: 9,
  merkleRoot: fakeDigest(random),
  lastHash: fakeDigest(random),
  iat: NOW_S,
};
const signer = (key: TestKey) => ({ key: key.privateKey, kid: key.kid, alg: key.alg });

/** A JWS signed like a checkpoint but with a header or payload of our choosing. */
const rawJws = (header: Record<string, unknown>, body: unknown, key: TestKey = LEDGER_KEY): Promise<string> =>
  new CompactSign(new TextEncoder().encode(JSON.stringify(body)))
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header })
    .sign(key.privateKey);

describe("signCheckpoint", () => {
  it.each([LEDGER_KEY, OTHER_LEDGER_KEY])("signs with $alg and verifyCheckpointSignature returns the payload", async (key) => {
    const jws = await signCheckpoint(payload, signer(key));
    expect(decodeProtectedHeader(jws)).toEqual({ alg: key.alg, kid: key.kid, typ: CHECKPOINT_TYP });
    expect(await verifyCheckpointSignature(jws, resolveKey)).toEqual(payload);
  });

  it("signs the canonical JSON of the payload", async () => {
    const jws = await signCheckpoint(payload, signer(OTHER_LEDGER_KEY));
    const text = new TextDecoder().decode(base64url.decode(jws.split(".")[1] as string));
    expect(text).toBe(
      `{"fromIndex":0,"iat":${NOW_S},"lastHash":"${payload.lastHash}","merkleRoot":"${payload.merkleRoot}","network":"clinic","toIndex":9}`,
    );
  });

  it("refuses a payload that is not a checkpoint", async () => {
    await expectAuditRejection(signCheckpoint({ ...payload, toIndex: -1 }, signer(LEDGER_KEY)), "ERR_AUDIT_CHECKPOINT_INVALID");
    await expectAuditRejection(signCheckpoint({ ...payload, fromIndex: 10 }, signer(LEDGER_KEY)), "ERR_AUDIT_CHECKPOINT_INVALID");
  });

  it("refuses an algorithm outside ES256 and EdDSA, and a key of the wrong type", async () => {
    const hs = { key: new Uint8Array(32), kid: "k", alg: "HS256" } as unknown as Parameters<typeof signCheckpoint>[1];
    await expectAuditRejection(signCheckpoint(payload, hs), "ERR_AUDIT_CHECKPOINT_INVALID");
    const mismatched = { ...signer(OTHER_LEDGER_KEY), alg: "ES256" as const };
    await expectAuditRejection(signCheckpoint(payload, mismatched), "ERR_AUDIT_CHECKPOINT_INVALID");
  });
});

describe("verifyCheckpointSignature", () => {
  let good: string;
  beforeAll(async () => {
    good = await signCheckpoint(payload, signer(LEDGER_KEY));
  });

  it("refuses a kid no trusted key has", async () => {
    await expectAuditRejection(verifyCheckpointSignature(good, keyring(OTHER_LEDGER_KEY)), "ERR_AUDIT_CHECKPOINT_INVALID");
  });

  it("refuses a signature by another key published under the same kid", async () => {
    const impostor = ed25519Key(LEDGER_KEY.kid, 99);
    const forged = await signCheckpoint(payload, signer(impostor));
    await expectAuditRejection(verifyCheckpointSignature(forged, keyring(ed25519Key(LEDGER_KEY.kid, 98))), "ERR_AUDIT_CHECKPOINT_INVALID");
    // and the real key's algorithm does not match the header's
    await expectAuditRejection(verifyCheckpointSignature(forged, resolveKey), "ERR_AUDIT_CHECKPOINT_INVALID");
  });

  it("refuses an edited payload", async () => {
    const [h, , s] = good.split(".");
    const edited = base64url.encode(JSON.stringify({ ...payload, toIndex: 8 }));
    await expectAuditRejection(verifyCheckpointSignature(`${h}.${edited}.${s}`, resolveKey), "ERR_AUDIT_CHECKPOINT_INVALID");
  });

  it.each([
    ["another typ", { typ: "JWT" }],
    ["no typ", { typ: undefined }],
    ["an ECT typ", { typ: "wimse-exec+jwt" }],
  ])("refuses %s", async (_name, header) => {
    await expectAuditRejection(verifyCheckpointSignature(await rawJws(header, payload), resolveKey), "ERR_AUDIT_CHECKPOINT_INVALID");
  });

  it("refuses alg none and HS256", async () => {
    const none = `${base64url.encode(JSON.stringify({ alg: "none", kid: LEDGER_KEY.kid, typ: CHECKPOINT_TYP }))}.${base64url.encode(JSON.stringify(payload))}.`;
    await expectAuditRejection(verifyCheckpointSignature(none, resolveKey), "ERR_AUDIT_CHECKPOINT_INVALID");
    const hs = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: "HS256", kid: LEDGER_KEY.kid, typ: CHECKPOINT_TYP })
      .sign(new Uint8Array(32));
    await expectAuditRejection(verifyCheckpointSignature(hs, resolveKey), "ERR_AUDIT_CHECKPOINT_INVALID");
  });

  it("refuses a signed payload that is not a checkpoint", async () => {
    const jws = await rawJws({ typ: CHECKPOINT_TYP }, { ...payload, extra: true });
    await expectAuditRejection(verifyCheckpointSignature(jws, resolveKey), "ERR_AUDIT_CHECKPOINT_INVALID");
  });

  it.each([42, "", "a.b", "x".repeat(5000)])("refuses %j as not a compact JWS", async (value) => {
    await expectAuditRejection(verifyCheckpointSignature(value, resolveKey), "ERR_AUDIT_CHECKPOINT_INVALID");
  });

  it("passes on a key lookup failure instead of calling the checkpoint invalid", async () => {
    const broken = () => Promise.reject(new Error("registry down"));
    await expectAuditRejection(verifyCheckpointSignature(good, broken), "ERR_AUDIT_KEY_LOOKUP_FAILED");
    const outage = () => Promise.reject(new TetherError("ERR_REGISTRY_FAILED", "kv unavailable"));
    await expectAuditRejection(verifyCheckpointSignature(good, outage), "ERR_REGISTRY_FAILED");
  });
});

describe("checkpointRange", () => {
  let ledger: LedgerRecord[];
  beforeAll(async () => {
    ledger = await buildLedger({ count: 12 });
  });

  it("states the Merkle root and the last hash of the covered records", () => {
    expect(checkpointRange(ledger, 2, 5)).toEqual({
      fromIndex: 2,
      toIndex: 5,
      merkleRoot: merkleRoot(ledger.slice(2, 6).map((r) => r.hash)),
      lastHash: ledger[5]?.hash,
    });
  });

  it("refuses a range the records do not hold", () => {
    expectAuditError(() => checkpointRange(ledger, 5, 40), "ERR_AUDIT_RECORD_INVALID");
    expectAuditError(() => checkpointRange(ledger, 6, 5), "ERR_AUDIT_RECORD_INVALID");
    expectAuditError(() => checkpointRange([...ledger.slice(0, 3), ...ledger.slice(4)], 0, 6), "ERR_AUDIT_RECORD_INVALID");
  });
});

describe("receipts", () => {
  let ledger: LedgerRecord[];
  const checkpointAt = (index: number) => ledger[index] as CheckpointRecord;
  beforeAll(async () => {
    ledger = await buildLedger(); // checkpoints at 10, 21, 32, 43
  });

  it("prove every covered record under the first checkpoint that covers it", async () => {
    for (let index = 0; index <= 42; index += 1) {
      const receipt = receiptFor(ledger, index);
      expect(receipt.hash).toBe(ledger[index]?.hash);
      const verdict = await verifyReceipt(receipt, checkpointAt(receipt.checkpointIndex), { resolveKey });
      expect(verdict, `record ${index}`).toEqual({ ok: true, network: "clinic", checkpointIndex: receipt.checkpointIndex });
    }
    expect(receiptFor(ledger, 10).checkpointIndex).toBe(21); // a checkpoint is covered by the next one
  });

  it("are unavailable (retryable) for records no checkpoint covers yet", () => {
    expectAuditError(() => receiptFor(ledger, 45), "ERR_AUDIT_RECEIPT_UNAVAILABLE");
    expectAuditError(() => receiptFor(ledger, 999), "ERR_AUDIT_RECORD_INVALID");
  });

  it("do not verify with another hash, index, path or checkpoint", async () => {
    const receipt = receiptFor(ledger, 25);
    const cp = checkpointAt(32);
    const fails = async (r: unknown, c: unknown = cp) => expect((await verifyReceipt(r, c, { resolveKey })).ok).toBe(false);
    await fails({ ...receipt, hash: ledger[26]?.hash });
    await fails({ ...receipt, index: 26 });
    await fails({ ...receipt, proof: receipt.proof.slice(1) });
    await fails(receipt, checkpointAt(43));
    await fails({ ...receipt, checkpointIndex: 43 }, checkpointAt(43));
    await fails({ ...receipt, extra: 1 });
    await fails(receipt, ledger[31]);
  });

  it("do not verify under an edited checkpoint record or an untrusted signer", async () => {
    const receipt = receiptFor(ledger, 25);
    const cp = checkpointAt(32);
    const edited = { ...cp, body: { ...cp.body, merkleRoot: fakeDigest(seeded(1)) } };
    expect((await verifyReceipt(receipt, edited, { resolveKey })).ok).toBe(false);
    expect(await verifyReceipt(receipt, cp, { resolveKey: keyring(OTHER_LEDGER_KEY) })).toMatchObject({ ok: false });
  });
});
