import { isTetherError, type TrustIngestResult, type TrustQuarantine, type TrustScore } from "../../protocols/index.ts";
import type { RefusalBudget } from "../refusal-budget.ts";
import type { EctFeed } from "./ect-feed.ts";
import type { TrustBook, TrustState } from "./trust-book.ts";
import { quarantineOverrideId, type QuarantinePort } from "./trust-quarantine.ts";

/** What one ingest needs besides the state and the book. */
export interface IngestDeps {
  readonly feed: EctFeed;
  readonly quarantine: QuarantinePort | undefined;
  readonly now: () => number;
  readonly record: (event: string, subject: string, details: Record<string, unknown>) => Promise<void>;
  readonly checkpoint: () => Promise<unknown>;
  readonly refusals: RefusalBudget;
  readonly self: string;
  /** Replay memory: jti → stored-at of the records counted within the store window (in memory, rebuilt after a restart). */
  readonly seen: Map<string, number>;
  readonly windowMs: number;
  /**
   * Mints the batch's trust assertion ECT (`trust.assert`, parents the counted records, at most 100,
   * the newest; the new scores in `ext`); resolves with its jti. Absent: no assertion (unit tests).
   */
  readonly assert?: (parents: readonly string[], scores: Record<string, number>) => Promise<string>;
}

const MAX_QUARANTINES = 100;
/** Record ids of the replay memory saved with the checkpoint. */
const REPLAY_MEMORY = 2_000;

/**
 * Reads the ECT stream on from the checkpointed position, counts every outcome the verified records
 * prove, and checkpoints once for the whole batch (position and scores in one KV value): a crash
 * before the checkpoint re-reads the batch, a crash after it never counts it again, so no record is
 * lost or counted twice. Then quarantines (through the port) each agent whose score fell below the
 * threshold, and each agent whose profile violation asked for quarantine.
 */
export const ingest = async (state: TrustState, book: TrustBook, limit: number, d: IngestDeps): Promise<TrustIngestResult> => {
  const entries = await d.feed.read(state.position ?? 0, limit + 1);
  const batch = entries.slice(0, limit);
  const now = d.now();
  const changed = new Map<string, { score: TrustScore; evidence: string }>();
  const askQuarantine = new Map<string, string>();
  let counted = 0;
  let rejected = 0;
  const countedJtis: string[] = [];
  for (const entry of batch) {
    state.position = entry.seq;
    if (entry.storedAt > 0) state.positionAt = entry.storedAt;
    let reason = entry.rejected;
    if (reason === undefined && entry.jti !== undefined) {
      if (d.seen.has(entry.jti)) reason = "record written again (replay)";
      else d.seen.set(entry.jti, entry.storedAt);
    }
    if (reason !== undefined) {
      rejected++;
      const details = d.refusals.take(now, { source: "trust", code: "ERR_TRUST_REPORT_INVALID", reason, seq: entry.seq, at: now });
      if (details !== undefined) await d.record("violation", d.self, details);
      continue;
    }
    const o = entry.derived;
    if (o === undefined) continue;
    try {
      const score = book.apply({ observer: o.observer, subject: o.subject, outcome: o.outcome, count: 1, jti: o.jti, expiresAt: 0, evidence: o.jti }, now);
      changed.set(o.subject, { score, evidence: o.jti });
      countedJtis.push(o.jti);
      counted++;
      if (o.quarantine === true) askQuarantine.set(o.subject, o.jti);
    } catch (error) {
      rejected++;
      const details = d.refusals.take(now, { source: "trust", code: "ERR_TRUST_LIMIT", reason: error instanceof Error ? error.message.slice(0, 256) : "limit", seq: entry.seq, at: now });
      if (details !== undefined) await d.record("violation", d.self, details);
    }
  }
  // forget replay memory older than the window (a record stored later than that is refused anyway)
  const horizon = (state.positionAt ?? 0) - 2 * d.windowMs;
  for (const [jti, at] of d.seen) {
    if (at >= horizon) break;
    d.seen.delete(jti);
  }
  state.recentJtis = [...d.seen].slice(-REPLAY_MEMORY);
  if (counted > 0 && d.assert !== undefined) {
    const scores = Object.fromEntries([...changed].slice(0, 50).map(([agent, c]) => [agent, Math.round(c.score.score * 1e6) / 1e6]));
    const assertion = await d.assert(countedJtis.slice(-100), scores);
    book.noteBatchAssertion(changed.keys(), new Set(countedJtis), assertion);
  }
  const due = d.quarantine === undefined ? [] : decideQuarantines(state, d.quarantine.threshold, changed, askQuarantine, now);
  await d.checkpoint();
  if (counted > 0) {
    const scores = Object.fromEntries([...changed].slice(0, 50).map(([agent, c]) => [agent, Math.round(c.score.score * 1e6) / 1e6]));
    await d.record("trust.ingested", d.self, { from: batch[0]?.seq ?? 0, to: state.position ?? 0, counted, rejected, scores });
  }
  const issued = d.quarantine === undefined ? [] : await issueQuarantines(d.quarantine, due, d);
  return { read: batch.length, counted, rejected, position: state.position ?? 0, more: entries.length > limit, quarantined: issued };
};

/** New quarantines (pending, saved with the checkpoint before they are issued) plus the pending ones a crash left. */
export const decideQuarantines = (state: TrustState, threshold: number, changed: Map<string, { score: TrustScore; evidence: string }>, asked: Map<string, string>, now: number): TrustQuarantine[] => {
  const below = (state.below ??= {});
  const counts = (state.quarantineCount ??= {});
  const list = (state.quarantines ??= []);
  const add = (agent: string, cause: TrustQuarantine["cause"], score: number, evidence: string) => {
    const n = (counts[agent] ?? 0) + 1;
    counts[agent] = n;
    list.push({ agent, overrideId: quarantineOverrideId(agent, n), cause, score, evidence, at: Math.floor(now), issued: false, acked: null, expected: null });
  };
  for (const [agent, { score, evidence }] of changed) {
    if (score.score >= threshold) {
      delete below[agent];
      continue;
    }
    if (below[agent] === true) continue;
    below[agent] = true;
    if (!asked.has(agent)) add(agent, "score", score.score, evidence);
  }
  for (const [agent, evidence] of asked) add(agent, "violation", changed.get(agent)?.score.score ?? 0, evidence);
  if (list.length > MAX_QUARANTINES) list.splice(0, list.length - MAX_QUARANTINES);
  return list.filter((q) => !q.issued && q.error === undefined);
};

/** Issues the due quarantines through the port, records each, and checkpoints their outcome. */
export const issueQuarantines = async (port: QuarantinePort, due: TrustQuarantine[], d: Pick<IngestDeps, "record" | "checkpoint">): Promise<TrustQuarantine[]> => {
  if (due.length === 0) return [];
  for (const q of due) {
    const reason = q.cause === "score" ? `trust ${q.score.toFixed(3)} fell below ${port.threshold} (evidence ${q.evidence ?? "-"})` : `profile violation with response quarantine (evidence ${q.evidence ?? "-"})`;
    try {
      const out = await port.issue({ agent: q.agent, overrideId: q.overrideId, reason });
      Object.assign(q, { issued: true, acked: out.acked, expected: out.expected });
    } catch (error) {
      // a retryable failure (the override actor unreachable) stays pending for the next ingest
      if (!(isTetherError(error) && error.retryable)) q.error = (error instanceof Error ? error.message : String(error)).slice(0, 512);
    }
    if (!q.issued && q.error === undefined) continue;
    await d.record("trust.quarantined", q.agent, { override: q.overrideId, cause: q.cause, score: q.score, threshold: port.threshold, evidence: q.evidence ?? null, acked: q.acked, expected: q.expected, ...(q.error === undefined ? {} : { error: q.error }) });
  }
  await d.checkpoint();
  return due.map((q) => ({ ...q }));
};
