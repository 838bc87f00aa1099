import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "commander";
import { runEctCrypto } from "./ect-crypto.ts";
import { runEctLedger } from "./ect-ledger.ts";
import { runEctWorkflow } from "./ect-workflow.ts";
import { progress, type ComparedMetric } from "./report.ts";

export const ECT_PARTS = ["crypto", "workflow", "ledger"] as const;
export type EctPart = (typeof ECT_PARTS)[number];

export interface EctOptions {
  readonly rounds: number;
  /** Which parts to run (default all three, in this order). */
  readonly parts: readonly EctPart[];
  /** crypto: tokens per sequential round. */
  readonly sequential: number;
  /** crypto: tokens per concurrent round. */
  readonly concurrentTokens: number;
  /** crypto: operations in flight in the concurrent rounds. */
  readonly concurrency: number;
  /** workflow: workflows per round and profile (3 steps each). */
  readonly workflows: number;
  /** workflow: workflows in flight. */
  readonly lanes: number;
  /** ledger: records per round and side. */
  readonly records: number;
  /** ledger: appends in flight (a window). */
  readonly window: number;
  /** ledger: checkpoint every this many records (undefined: the ledger's default, 100). */
  readonly checkpointEvery: number | undefined;
}

/** `--only crypto,ledger` → the parts, in the suite's order; refuses unknown names. */
export const parseEctParts = (value: string): EctPart[] => {
  const given = value.split(",").map((p) => p.trim());
  const unknown = given.filter((p) => !(ECT_PARTS as readonly string[]).includes(p));
  if (unknown.length > 0) throw new InvalidArgumentError(`unknown part ${unknown.join(", ")}: the parts are ${ECT_PARTS.join(", ")}`);
  return ECT_PARTS.filter((p) => given.includes(p));
};

/** One line saying what each part that runs compares, and how much of it. */
export const describeEctRun = (o: EctOptions): string => {
  const parts: Record<EctPart, string> = {
    crypto: `crypto ${o.sequential} tokens sequential / ${o.concurrentTokens} at ${o.concurrency} in flight (raw = plain jose)`,
    workflow: `workflow ${o.workflows} × 3 steps at ${o.lanes} in flight (tether = regulated, raw = relaxed)`,
    ledger: `ledger ${o.records} records at ${o.window} in flight (raw = js.publish)`,
  };
  return `${o.rounds} rounds (median); ${o.parts.map((p) => parts[p]).join("; ")}`;
};

export interface EctResult {
  readonly metrics: ComparedMetric[];
  readonly notes: string[];
}

/**
 * Suite `ect`: the cost of Execution Context Tokens and of the regulated profile.
 * - crypto: `mintEct` / `verifyEct` against jose's `SignJWT` / `jwtVerify`, ES256 and EdDSA;
 * - workflow: one workflow's step rate under `regulated` (tether column) against `relaxed` (raw column);
 * - ledger: audit ledger appends against raw JetStream publishes.
 * Each part starts its own nats-server(s) and stops them when it ends; keys go to a temporary
 * directory that is removed at the end, also on failure.
 */
export const runEct = async (options: EctOptions): Promise<EctResult> => {
  const metrics: ComparedMetric[] = [];
  const notes: string[] = [];
  const keyDir = mkdtempSync(join(tmpdir(), "tether-bench-ect-keys-"));
  try {
    if (options.parts.includes("crypto")) {
      progress(`ect crypto: ${options.rounds} rounds; ${options.sequential} tokens sequential, ${options.concurrentTokens} with ${options.concurrency} in flight`);
      metrics.push(
        ...(await runEctCrypto({
          rounds: options.rounds,
          sequential: options.sequential,
          concurrentTokens: options.concurrentTokens,
          concurrency: options.concurrency,
        })),
      );
    }
    if (options.parts.includes("workflow")) {
      progress(`ect workflow: ${options.rounds} rounds; ${options.workflows} workflows × 3 steps per profile and round, ${options.lanes} in flight`);
      const r = await runEctWorkflow({ rounds: options.rounds, workflows: options.workflows, lanes: options.lanes, keyDir: join(keyDir, "workflow") });
      metrics.push(...r.metrics);
      notes.push(...r.notes);
    }
    if (options.parts.includes("ledger")) {
      progress(`ect ledger: ${options.rounds} rounds; ${options.records} records per side and round, ${options.window} in flight`);
      const r = await runEctLedger({
        rounds: options.rounds,
        records: options.records,
        window: options.window,
        checkpointEvery: options.checkpointEvery,
        keyDir: join(keyDir, "ledger"),
      });
      metrics.push(...r.metrics);
      notes.push(...r.notes);
    }
    return { metrics, notes };
  } finally {
    rmSync(keyDir, { recursive: true, force: true });
  }
};
