import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { beforeAll, describe, expect, it } from "vitest";
import {
  appendRecord,
  checkpointRange,
  GENESIS_HASH,
  hashRecord,
  signCheckpoint,
  verifyLedger,
  verifyLedgerStream,
  LedgerVerifier,
  type LedgerProblemKind,
  type LedgerRecord,
  type LedgerVerdict,
  type VerifyLedgerOptions,
} from "../../../protocols/index.ts";
import {
  buildLedger,
  copy,
  ectBody,
  edit,
  expectAuditRejection,
  fakeDigest,
  keyring,
  LEDGER_KEY,
  NOW_MS,
  NOW_S,
  OTHER_LEDGER_KEY,
  rehashFrom,
  resolveKey,
  seeded,
  unsignedToken,
  type EctClaims,
} from "./fixtures.ts";

/*
 * The ledger under test has 50 records: data at positions 0-9, 11-20, 22-31, 33-42 and 44-49, and
 * checkpoints at 10 (covering 0-9), 21 (10-20), 32 (21-31) and 43 (32-42). "Right after a
 * checkpoint" is position 11; position 10 is a checkpoint itself; 49 is the last record.
 */
let ledger: LedgerRecord[];
beforeAll(async () => {
  ledger = await buildLedger();
});

const random = seeded(2024);
const verify = (records: readonly unknown[], options: Partial<VerifyLedgerOptions> = {}): Promise<LedgerVerdict> =>
  verifyLedger(records, { resolveKey, ...options });

const expectProblem = (verdict: LedgerVerdict, position: number, problem: LedgerProblemKind): void => {
  expect(verdict.ok, verdict.firstProblem?.message).toBe(false);
  expect({ position: verdict.firstProblem?.position, problem: verdict.firstProblem?.problem }, verdict.firstProblem?.message).toEqual({
    position,
    problem,
  });
  expect(verdict.records).toBe(position);
};

type Mutable = Record<string, unknown> & { body: Record<string, unknown> };

/** A kind-appropriate edit of the body that keeps the record valid. */
const editBody = (record: Mutable): void => {
  if (record["kind"] === "event") record.body["details"] = { ...(record.body["details"] as object), note: "edited" };
  else if (record["kind"] === "ect") record.body["iat"] = (record.body["iat"] as number) + 1;
  else record.body["merkleRoot"] = fakeDigest(random);
};

const fieldEdits: Record<string, (record: Mutable) => void> = {
  body: editBody,
  at: (r) => (r["at"] = (r["at"] as number) + 1),
  index: (r) => (r["index"] = (r["index"] as number) + 1),
  prevHash: (r) => (r["prevHash"] = fakeDigest(random)),
  network: (r) => (r["network"] = "pharmacy"),
};

const cross = <A, B>(as: readonly A[], bs: readonly B[]): [A, B][] => as.flatMap((a) => bs.map((b): [A, B] => [a, b]));

describe("verifyLedger", () => {
  it("accepts an untouched ledger and counts its records and checkpoints", async () => {
    expect(await verify(ledger)).toEqual({ ok: true, records: 50, checkpoints: 4 });
    expect(await verify(copy(ledger))).toEqual({ ok: true, records: 50, checkpoints: 4 });
  });

  it("accepts an empty ledger", async () => {
    expect(await verify([])).toEqual({ ok: true, records: 0, checkpoints: 0 });
  });

  describe("a modified record", () => {
    const positions = [0, 11, 25, 49, 10];

    it.each(cross(positions, [...Object.keys(fieldEdits), "hash"]))(
      "is reported at its position (position %i, %s edited, hash left as it was)",
      async (position, field) => {
        const change = field === "hash" ? (r: Mutable) => (r["hash"] = fakeDigest(random)) : (fieldEdits[field] as (r: Mutable) => void);
        expectProblem(await verify(edit(ledger, position, change)), position, "modified");
      },
    );

    it.each(cross([0, 9, 10, 11, 25, 48], Object.keys(fieldEdits)))(
      "is reported at its position, not the next one, when its own hash was recomputed (position %i, %s edited)",
      async (position, field) => {
        expectProblem(await verify(edit(ledger, position, fieldEdits[field] as (r: Mutable) => void, true)), position, "modified");
      },
    );

    it("is reported when a member a parser might drop (__proto__) was added", async () => {
      const position = ledger.findIndex((record) => record.kind === "event");
      const records = copy(ledger) as unknown[];
      const text = JSON.stringify(records[position]).replace('"details":{', '"details":{"__proto__":{"admin":true},');
      records[position] = JSON.parse(text);
      expectProblem(await verify(records), position, "modified");
    });

    it("is reported as invalid when the edit breaks the record's schema", async () => {
      expectProblem(await verify(edit(ledger, 25, (r) => (r["kind"] = "note"))), 25, "invalid");
      expectProblem(await verify(edit(ledger, 25, (r) => (r["index"] = -1))), 25, "invalid");
    });

    it("is located to the first record no earlier checkpoint pins when the whole chain after it was re-hashed", async () => {
      // Record 25 edited, then 25-49 re-hashed and re-linked: only checkpoint 32 (covering 21-31)
      // still states the old hashes, and checkpoint 21 pins everything up to 20.
      const verdict = await verify(rehashFrom(edit(ledger, 25, editBody), 25));
      expectProblem(verdict, 21, "modified");
      expect(verdict.checkpoints).toBe(1); // checkpoint 10; checkpoint 21 verified too, but sits at the reported position
    });

    it("goes unseen when it is the last record and its hash was recomputed, unless an anchor covers it", async () => {
      const tampered = edit(ledger, 49, fieldEdits["at"] as (r: Mutable) => void, true);
      expect(await verify(tampered)).toEqual({ ok: true, records: 50, checkpoints: 4 });
      const anchor = await signAnchor(43, 49);
      // The anchor's root cannot say which record changed: the first one it covers beyond
      // checkpoint 43's range (which pins 0-42) is reported.
      const verdict = await verify(tampered, { anchors: [anchor] });
      expectProblem(verdict, 43, "modified");
      expect(verdict.firstProblem?.anchor).toBe(0);
    });
  });

  describe("a deleted record", () => {
    it.each([0, 9, 10, 11, 25, 48])("is reported where the chain breaks (record %i deleted)", async (position) => {
      const records = copy(ledger).filter((_, p) => p !== position);
      const verdict = await verify(records);
      expectProblem(verdict, position, "deleted");
      expect(verdict.firstProblem?.index).toBe(position);
    });

    it("is reported once for a run of deleted records, naming the missing indexes", async () => {
      const verdict = await verify(copy(ledger).filter((_, p) => p < 20 || p > 22));
      expectProblem(verdict, 20, "deleted");
      expect(verdict.firstProblem?.message).toContain("20..22");
    });

    it("goes unseen at the end of the ledger (a truncated tail) without an anchor", async () => {
      expect(await verify(ledger.slice(0, 47))).toEqual({ ok: true, records: 47, checkpoints: 4 });
    });

    it("at the end is reported once an anchor signed over the missing records", async () => {
      const anchor = await signAnchor(43, 49);
      const verdict = await verify(ledger.slice(0, 47), { anchors: [anchor] });
      expectProblem(verdict, 47, "deleted");
      expect(verdict.firstProblem).toMatchObject({ index: 47, anchor: 0 });
      expect(await verify(ledger, { anchors: [anchor] })).toEqual({ ok: true, records: 50, checkpoints: 4 });
    });
  });

  describe("swapped records", () => {
    it.each([
      [0, 1],
      [24, 25],
      [48, 49],
      [9, 10],
      [10, 11],
      [11, 30],
      [5, 15],
      [0, 49],
    ])("are reported as reordered at the first of the two (positions %i and %i)", async (a, b) => {
      const records = copy(ledger) as unknown[];
      [records[a], records[b]] = [records[b], records[a]];
      expectProblem(await verify(records), a, "reordered");
    });
  });

  describe("an inserted record", () => {
    /** A forged event; `slot` picks its index and prevHash, `consistent` whether its hash is right. */
    const forge = (records: readonly LedgerRecord[], position: number, slot: "own" | "previous" | "fresh" | "duplicate", consistent: boolean) => {
      const hashAt = (p: number) => (p < 0 ? GENESIS_HASH : (records[p] as LedgerRecord).hash);
      const index = slot === "own" ? position : slot === "previous" ? position - 1 : slot === "fresh" ? 1_000_000 + position : Math.max(position - 1, 0);
      const prevHash = slot === "previous" ? hashAt(position - 2) : hashAt(position - 1);
      const record: Record<string, unknown> = {
        type: "tether.audit.v1.record",
        network: "clinic",
        index,
        prevHash,
        kind: "event",
        at: NOW_MS + position * 1000 + 500,
        body: { event: "approval.granted", subject: "mallory", details: { forged: true } },
      };
      record["hash"] = consistent ? hashRecord(record) : fakeDigest(random);
      return record;
    };
    const insert = (position: number, forged: unknown): unknown[] => {
      const records = copy(ledger) as unknown[];
      records.splice(position, 0, forged);
      return records;
    };

    const variants = {
      "a perfect copy of the slot it takes (self-consistent, duplicated index)": { slot: "own", consistent: true, at: [0, 11, 25] },
      "a copy of the previous record's slot (self-consistent, duplicated index)": { slot: "previous", consistent: true, at: [11, 25, 49, 50] },
      "a duplicated index and a hash that does not match": { slot: "duplicate", consistent: false, at: [0, 11, 25, 49, 50] },
      "a fresh index and a self-consistent hash": { slot: "fresh", consistent: true, at: [0, 11, 25, 49, 50] },
      "a fresh index and a hash that does not match": { slot: "fresh", consistent: false, at: [0, 11, 25, 49, 50] },
    } as const;

    it.each(Object.entries(variants).flatMap(([name, v]) => v.at.map((position): [string, number] => [name, position])))(
      "is reported at its position (%s, inserted at position %i)",
      async (name, position) => {
        const { slot, consistent } = variants[name as keyof typeof variants];
        expectProblem(await verify(insert(position, forge(ledger, position, slot, consistent))), position, "inserted");
      },
    );

    it("is reported when it is not a record at all and the chain continues without it", async () => {
      expectProblem(await verify(insert(25, { hello: "world" })), 25, "inserted");
      expectProblem(await verify(edit(ledger, 25, (r) => delete r["hash"])), 25, "invalid");
    });

    it("goes unseen when it is appended with the next index, linked and self-consistent", async () => {
      expect((await verify(insert(50, forge(ledger, 50, "own", true)))).ok).toBe(true);
    });
  });

  describe("every single tampering, at every position", () => {
    // The tables above pick telling positions; this sweep checks that the rules hold everywhere.
    it("reports each edit, deletion, adjacent swap and insertion where it happened", async () => {
      const at = fieldEdits["at"] as (r: Mutable) => void;
      const expectations: [string, unknown[], number, LedgerProblemKind | "ok"][] = [];
      for (let p = 0; p < 50; p += 1) {
        expectations.push([`edit ${p}`, edit(ledger, p, at), p, "modified"]);
        expectations.push([`edit+rehash ${p}`, edit(ledger, p, at, true), p, p === 49 ? "ok" : "modified"]);
        expectations.push([`delete ${p}`, copy(ledger).filter((_, q) => q !== p), p, p === 49 ? "ok" : "deleted"]);
        if (p < 49) {
          const swapped = copy(ledger) as unknown[];
          [swapped[p], swapped[p + 1]] = [swapped[p + 1], swapped[p]];
          expectations.push([`swap ${p}`, swapped, p, "reordered"]);
          const far = (p * 17 + 5) % 50;
          if (far !== p) {
            const crossed = copy(ledger) as unknown[];
            [crossed[p], crossed[far]] = [crossed[far], crossed[p]];
            expectations.push([`swap ${p}/${far}`, crossed, Math.min(p, far), "reordered"]);
          }
        }
      }
      for (let p = 0; p <= 50; p += 1) {
        const forged: Record<string, unknown> = {
          type: "tether.audit.v1.record",
          network: "clinic",
          index: 1_000_000 + p,
          prevHash: p === 0 ? GENESIS_HASH : (ledger[p - 1] as LedgerRecord).hash,
          kind: "event",
          at: NOW_MS,
          body: { event: "violation", details: {} },
        };
        forged["hash"] = hashRecord(forged);
        const records = copy(ledger) as unknown[];
        records.splice(p, 0, forged);
        expectations.push([`insert ${p}`, records, p, "inserted"]);
      }
      const failures: string[] = [];
      for (const [name, records, position, problem] of expectations) {
        const verdict = await verify(records);
        const got = verdict.ok ? "ok" : `${verdict.firstProblem?.problem}@${verdict.firstProblem?.position}`;
        const want = problem === "ok" ? "ok" : `${problem}@${position}`;
        if (got !== want) failures.push(`${name}: got ${got}, want ${want}`);
      }
      expect(failures).toEqual([]);
    });
  });

  describe("checkpoints", () => {
    it("report a checkpoint signed by an untrusted key as checkpoint-invalid", async () => {
      const verdict = await verify(ledger, { resolveKey: keyring(OTHER_LEDGER_KEY) });
      expectProblem(verdict, 10, "checkpoint-invalid");
      expect(verdict.checkpoints).toBe(0);
    });

    it("report a checkpoint whose signature states other values than its body", async () => {
      const records = ledger.slice(0, 10);
      const range = checkpointRange(records, 0, 9);
      const signature = await signCheckpoint({ network: "clinic", ...range, toIndex: 8, lastHash: records[8]?.hash ?? "", iat: NOW_S }, signerOf());
      records.push(appendRecord(records[9], { network: "clinic", kind: "checkpoint", body: { ...range, signature }, at: NOW_MS }));
      expectProblem(await verify(records), 10, "checkpoint-invalid");
    });

    it("report a checkpoint whose Merkle root the covered records do not have", async () => {
      const records = ledger.slice(0, 10);
      const range = { ...checkpointRange(records, 0, 9), merkleRoot: fakeDigest(random) };
      const signature = await signCheckpoint({ network: "clinic", ...range, iat: NOW_S }, signerOf());
      records.push(appendRecord(records[9], { network: "clinic", kind: "checkpoint", body: { ...range, signature }, at: NOW_MS }));
      expectProblem(await verify(records), 10, "checkpoint-invalid");
    });

    it("report a checkpoint that covers itself", async () => {
      const records = ledger.slice(0, 10);
      const range = { ...checkpointRange(records, 0, 9), toIndex: 10 };
      const signature = await signCheckpoint({ network: "clinic", ...range, iat: NOW_S }, signerOf());
      records.push(appendRecord(records[9], { network: "clinic", kind: "checkpoint", body: { ...range, signature }, at: NOW_MS }));
      expectProblem(await verify(records), 10, "checkpoint-invalid");
    });

    it("report an anchor that does not verify or belongs to another network", async () => {
      const foreign = await signCheckpoint({ network: "pharmacy", ...checkpointRange(ledger, 0, 9), iat: NOW_S }, signerOf());
      const unknown = await signCheckpoint({ network: "clinic", ...checkpointRange(ledger, 0, 9), iat: NOW_S }, {
        key: OTHER_LEDGER_KEY.privateKey,
        kid: "nobody",
        alg: "EdDSA",
      });
      for (const anchor of [foreign, unknown, "a.b.c"]) {
        const verdict = await verify(ledger, { anchors: [anchor] });
        expectProblem(verdict, 50, "checkpoint-invalid");
        expect(verdict.firstProblem?.anchor).toBe(0);
      }
    });

    it("pass on a failing key lookup instead of reporting tampering", async () => {
      await expectAuditRejection(verify(ledger, { resolveKey: () => Promise.reject(new Error("down")) }), "ERR_AUDIT_KEY_LOOKUP_FAILED");
    });
  });

  describe("record content", () => {
    it("reports a ledger of another network than expected as invalid at its first record", async () => {
      expectProblem(await verify(ledger, { network: "pharmacy" }), 0, "invalid");
    });

    it("reports a record of another network, written into the chain, as invalid", async () => {
      const records = rehashFrom(edit(ledger, 30, (r) => (r["network"] = "pharmacy")), 30);
      // (re-hashing the whole tail also breaks checkpoint 32, which reports at 21: look before it)
      const verdict = await verify(records.slice(0, 32));
      expectProblem(verdict, 30, "invalid");
    });

    it("reports an ect record whose claims are not its token's as invalid", async () => {
      const claims: EctClaims = {
        iss: "spiffe://example.com/agent/a",
        aud: ["spiffe://example.com/audit"],
        jti: "550e8400-e29b-41d4-a716-446655440000",
        iat: NOW_S,
        exp: NOW_S + 600,
        exec_act: "review_spec",
        par: [],
      };
      const records = ledger.slice(0, 5);
      const body = { ...ectBody(unsignedToken(claims), claims, "L1"), exec_act: "approve_release" };
      records.push(appendRecord(records[4], { network: "clinic", kind: "ect", body, at: NOW_MS }));
      const verdict = await verify(records);
      expectProblem(verdict, 5, "invalid");
      expect(verdict.firstProblem?.message).toContain("exec_act");
    });

    it("checks a ledger signed with EdDSA checkpoints the same way", async () => {
      const other = await buildLedger({ key: OTHER_LEDGER_KEY, seed: 7, count: 30 });
      expect(await verify(other)).toEqual({ ok: true, records: 30, checkpoints: 2 });
      const records = copy(other) as unknown[];
      [records[3], records[17]] = [records[17], records[3]];
      expectProblem(await verify(records), 3, "reordered");
    });
  });
});

describe("verifyLedgerStream", () => {
  async function* slowly(records: readonly unknown[]): AsyncGenerator<unknown> {
    for (const record of records) {
      await Promise.resolve();
      yield record;
    }
  }
  const swapped = (a: number, b: number): unknown[] => {
    const records = copy(ledger) as unknown[];
    [records[a], records[b]] = [records[b], records[a]];
    return records;
  };

  it("gives verifyLedger's verdict on sound and tampered ledgers read as a stream", async () => {
    const cases: [string, unknown[], Partial<VerifyLedgerOptions>][] = [
      ["untouched", copy(ledger), {}],
      ["empty", [], {}],
      ["modified at 0", edit(ledger, 0, fieldEdits["at"] as (r: Mutable) => void), {}],
      ["modified and re-hashed at 25", edit(ledger, 25, editBody, true), {}],
      ["chain re-hashed after 25", rehashFrom(edit(ledger, 25, editBody), 25), {}],
      ["deleted 10", copy(ledger).filter((_, p) => p !== 10), {}],
      ["swapped 11 and 30", swapped(11, 30), {}],
      ["swapped 9 and 10", swapped(9, 10), {}],
      ["not JSON at 3", copy(ledger).map((r, p) => (p === 3 ? "garbage" : r)), {}],
      ["other network at 5", edit(ledger, 5, fieldEdits["network"] as (r: Mutable) => void, true), {}],
      ["truncated, anchored", ledger.slice(0, 47), { anchors: [await signAnchor(43, 49)] }],
    ];
    for (const [name, records, options] of cases) {
      const expected = await verify(records, options);
      const seen: number[] = [];
      const streamed = await verifyLedgerStream(slowly(records), { resolveKey, ...options, onRecord: (n) => seen.push(n) });
      expect({ name, verdict: streamed }).toEqual({ name, verdict: expected });
      expect(seen.at(-1) ?? 0).toBe(records.length);
    }
  });

  it("holds none of the records it has verified (only their hashes)", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const big = await buildLedger({ count: 400, checkpointEvery: 50 });
    const refs: WeakRef<object>[] = [];
    const verifier = new LedgerVerifier({ resolveKey });
    for (const record of big) {
      const stored = JSON.parse(JSON.stringify(record)) as object; // as read from a stream: a fresh object
      refs.push(new WeakRef(stored));
      await verifier.push(stored);
    }
    await new Promise((r) => setTimeout(r, 0));
    gc();
    // the last two stay (rules 4 and 7 look back two records); every other one can be collected
    expect(refs.filter((r) => r.deref() !== undefined).length).toBeLessThanOrEqual(2);
    expect(await verifier.finish()).toEqual({ ok: true, records: 400, checkpoints: 7 });
  });

  it("classifies a swap further apart than its lookahead as a modification, not a reordering", async () => {
    expectProblem(await verifyLedgerStream(swapped(0, 49), { resolveKey, lookahead: 60 }), 0, "reordered");
    expectProblem(await verifyLedgerStream(swapped(0, 49), { resolveKey, lookahead: 10 }), 0, "modified");
  });
});

function signerOf() {
  return { key: LEDGER_KEY.privateKey, kid: LEDGER_KEY.kid, alg: LEDGER_KEY.alg };
}

/** A checkpoint over `fromIndex..toIndex` of the untouched ledger, kept outside it. */
async function signAnchor(fromIndex: number, toIndex: number): Promise<string> {
  return signCheckpoint({ network: "clinic", ...checkpointRange(ledger, fromIndex, toIndex), iat: NOW_S + 100 }, signerOf());
}
