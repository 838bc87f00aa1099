import { beforeAll, describe, expect, it } from "vitest";
import { appendRecord, stitchWorkflow, type LedgerRecord } from "../../../protocols/index.ts";
import {
  appendCheckpoint,
  copy,
  ectBody,
  LEDGER_KEY,
  NOW_MS,
  NOW_S,
  OTHER_LEDGER_KEY,
  resolveKey,
  signedToken,
  unsignedToken,
  type EctClaims,
} from "./fixtures.ts";

const WID = "0f6b3b0e-7c1a-4d2e-9a51-2b8c9d0e1f23";
const OTHER_WID = "7d1c2a9e-3b4f-4e5d-8c6b-1a2b3c4d5e6f";
const DEV = "spiffe://example.com/agent/dev";
const QA = "spiffe://example.com/agent/qa";
const RELEASE = "spiffe://example.com/agent/release";

const claims = (jti: string, exec_act: string, par: readonly string[], iat: number, iss: string, wid: string | undefined = WID): EctClaims => ({
  iss,
  aud: ["spiffe://example.com/audit"],
  jti,
  iat,
  exp: iat + 600,
  exec_act,
  par,
  ...(wid === undefined ? {} : { wid }),
});

/** The draft's use-case DAG: a chain of five tasks, one jti each. */
const jti = {
  review: "00000000-0000-4000-8000-000000000001",
  implement: "00000000-0000-4000-8000-000000000002",
  test: "00000000-0000-4000-8000-000000000003",
  build: "00000000-0000-4000-8000-000000000004",
  approve: "00000000-0000-4000-8000-000000000005",
} as const;
const review = claims(jti.review, "review_requirements_spec", [], NOW_S, DEV);
const implement = claims(jti.implement, "implement_module", [jti.review], NOW_S + 60, DEV);
const testSuite = claims(jti.test, "execute_test_suite", [jti.implement], NOW_S + 120, QA);
// The release network's clock runs 90 s behind: by iat alone, build would sort before the tests.
const build = claims(jti.build, "build_release_artifact", [jti.test], NOW_S + 30, RELEASE);
const approve = claims(jti.approve, "approve_release", [jti.build], NOW_S + 40, RELEASE);

type Entry = { readonly ect: EctClaims; readonly signed?: boolean } | { readonly event: string };

/** A verified-shape ledger from entries in arrival order, with a checkpoint after every 4 records. */
const ledgerOf = async (network: string, entries: readonly Entry[], key = LEDGER_KEY): Promise<LedgerRecord[]> => {
  const records: LedgerRecord[] = [];
  let from = 0;
  for (const entry of entries) {
    const at = NOW_MS + records.length * 1000;
    const prev = records[records.length - 1];
    if ("ect" in entry) {
      const token = entry.signed === true ? await signedToken(entry.ect) : unsignedToken(entry.ect);
      records.push(appendRecord(prev, { network, kind: "ect", body: ectBody(token, entry.ect, entry.signed === true ? "L2" : "L1"), at }));
    } else {
      records.push(appendRecord(prev, { network, kind: "event", body: { event: entry.event, details: {} }, at }));
    }
    if ((records.length + 1) % 5 === 0) {
      await appendCheckpoint(records, from, key, network);
      from = records.length - 1;
    }
  }
  return records;
};

const actions = (result: { steps: readonly { exec_act: string }[] }) => result.steps.map((step) => step.exec_act);

describe("stitchWorkflow", () => {
  let dev: LedgerRecord[];
  let release: LedgerRecord[];
  beforeAll(async () => {
    dev = await ledgerOf("dev", [
      { event: "key.rotated" },
      { ect: review },
      { ect: claims("99999999-0000-4000-8000-000000000001", "unrelated_task", [], NOW_S, DEV, OTHER_WID) },
      { ect: implement },
      { event: "approval.granted" },
      { ect: testSuite },
    ]);
    // The test-suite token travelled to the release network, which recorded it on arrival;
    // approve_release arrived before build_release_artifact.
    release = await ledgerOf(
      "release",
      [{ ect: testSuite }, { event: "override.stop" }, { ect: approve, signed: true }, { ect: build, signed: true }],
      OTHER_LEDGER_KEY,
    );
  });

  it("merges a five-step workflow split across two networks in causal order", async () => {
    const result = await stitchWorkflow(
      [
        { network: "release", records: copy(release) },
        { network: "dev", records: copy(dev) },
      ],
      WID,
      { resolveKey },
    );
    expect(actions(result)).toEqual([
      "review_requirements_spec",
      "implement_module",
      "execute_test_suite",
      "build_release_artifact",
      "approve_release",
    ]);
    expect(result).toMatchObject({ wid: WID, failedLedgers: [], missingParents: [], outsideParents: [], cycles: [], conflicts: [] });
    const tests = result.steps[2];
    expect(tests?.seenIn).toEqual([
      { network: "release", index: 0 },
      { network: "dev", index: 6 },
    ]);
    expect(result.steps.map((step) => step.level)).toEqual(["L1", "L1", "L1", "L2", "L2"]);
  });

  it("gives the same order whatever order the ledgers come in", async () => {
    const a = await stitchWorkflow([{ network: "dev", records: dev }, { network: "release", records: release }], WID, { resolveKey });
    const b = await stitchWorkflow([{ network: "release", records: release }, { network: "dev", records: dev }], WID, { resolveKey });
    expect(a.steps.map((s) => s.jti)).toEqual(b.steps.map((s) => s.jti));
  });

  it("reports a ledger that does not verify and merges none of its records", async () => {
    const tampered = copy(release) as unknown[];
    [tampered[2], tampered[3]] = [tampered[3], tampered[2]];
    const result = await stitchWorkflow(
      [
        { network: "dev", records: dev },
        { network: "release", records: tampered },
      ],
      WID,
      { resolveKey },
    );
    expect(result.failedLedgers).toEqual([{ network: "release", problem: expect.objectContaining({ problem: "reordered", position: 2 }) }]);
    expect(actions(result)).toEqual(["review_requirements_spec", "implement_module", "execute_test_suite"]);
  });

  it("lists parents found in no ledger as missing, and those outside the workflow apart", async () => {
    const orphan = claims("00000000-0000-4000-8000-0000000000aa", "sign_off", ["ffffffff-0000-4000-8000-000000000000"], NOW_S + 10, QA);
    const borrowing = claims("00000000-0000-4000-8000-0000000000bb", "reuse_result", ["99999999-0000-4000-8000-000000000001"], NOW_S + 20, QA);
    const qa = await ledgerOf("qa", [{ ect: orphan }, { ect: borrowing }]);
    const result = await stitchWorkflow([{ network: "dev", records: dev }, { network: "qa", records: qa }], WID, { resolveKey });
    expect(result.missingParents).toEqual(["ffffffff-0000-4000-8000-000000000000"]);
    expect(result.outsideParents).toEqual(["99999999-0000-4000-8000-000000000001"]);
    // With no known parent, both are roots, ordered by iat among the other roots.
    expect(actions(result)).toEqual(["review_requirements_spec", "sign_off", "reuse_result", "implement_module", "execute_test_suite"]);
  });

  it("orders tasks that become ready together by iat, then by jti", async () => {
    const root = claims("00000000-0000-4000-8000-000000000010", "plan", [], NOW_S, DEV);
    const b = claims("00000000-0000-4000-8000-00000000000b", "branch_b", [root.jti], NOW_S + 5, DEV);
    const a = claims("00000000-0000-4000-8000-00000000000a", "branch_a", [root.jti], NOW_S + 5, DEV);
    const early = claims("00000000-0000-4000-8000-00000000000c", "branch_c", [root.jti], NOW_S + 1, DEV);
    const join = claims("00000000-0000-4000-8000-000000000020", "join", [a.jti, b.jti, early.jti], NOW_S + 9, DEV);
    const records = await ledgerOf("dev", [{ ect: join }, { ect: b }, { ect: root }, { ect: a }, { ect: early }]);
    const result = await stitchWorkflow([{ network: "dev", records }], WID, { resolveKey });
    expect(actions(result)).toEqual(["plan", "branch_c", "branch_a", "branch_b", "join"]);
  });

  it("reports cycles and puts the tasks on and after them last", async () => {
    const id = (n: number) => `00000000-0000-4000-8000-00000000010${n}`;
    const records = await ledgerOf("dev", [
      { ect: claims(id(1), "start", [], NOW_S, DEV) },
      { ect: claims(id(2), "loop_a", [id(1), id(4)], NOW_S + 1, DEV) },
      { ect: claims(id(3), "loop_b", [id(2)], NOW_S + 2, DEV) },
      { ect: claims(id(4), "loop_c", [id(3)], NOW_S + 3, DEV) },
      { ect: claims(id(5), "after_loop", [id(4)], NOW_S + 4, DEV) },
      { ect: claims(id(6), "selfish", [id(6)], NOW_S + 5, DEV) },
    ]);
    const result = await stitchWorkflow([{ network: "dev", records }], WID, { resolveKey });
    expect(result.cycles).toEqual([[id(2), id(3), id(4)], [id(6)]]);
    expect(actions(result)).toEqual(["start", "loop_a", "loop_b", "loop_c", "after_loop", "selfish"]);
  });

  it("reports a jti recorded with two different tokens as a conflict and keeps the first", async () => {
    const forgedTwin = { ...approve, exec_act: "approve_release_now" };
    const other = await ledgerOf("audit", [{ ect: forgedTwin }]);
    const result = await stitchWorkflow(
      [
        { network: "dev", records: dev },
        { network: "release", records: release },
        { network: "audit", records: other },
      ],
      WID,
      { resolveKey },
    );
    expect(result.conflicts).toEqual([jti.approve]);
    expect(actions(result)).toContain("approve_release");
    expect(actions(result)).not.toContain("approve_release_now");
  });

  it("returns nothing for a workflow no ledger knows", async () => {
    const result = await stitchWorkflow([{ network: "dev", records: dev }], "no-such-workflow", { resolveKey });
    expect(result.steps).toEqual([]);
  });
});
