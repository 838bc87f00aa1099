import { z } from "zod";

/** What an observer saw an agent do. Each outcome is positive or negative evidence (see `docs/trust.md`). */
export const TrustOutcome = z.enum(["success", "failure", "timeout", "violation", "rollback-caused", "vote-agreed", "vote-disagreed", "drift"]);
export type TrustOutcome = z.infer<typeof TrustOutcome>;

const AgentId = z.string().min(1).max(128);
/** An observer is an agent (`agent:<id>`) or a node's runtime (`node:<id>`). */
const ObserverId = z.string().min(1).max(160);

/**
 * The body an observer signs: the report token's `inp_hash` is the hash of exactly this object, its
 * `exec_act` is `trust.report` and its issuer is the observer, so the report cannot be altered,
 * attributed to another observer or replayed (its `jti` is remembered until the token expires).
 */
export const TrustReportBody = z.strictObject({
  type: z.literal("tether.trust.v1.report-body"),
  subject: AgentId,
  outcome: TrustOutcome,
  /** Repeats of the same outcome this report stands for (1..100). */
  count: z.int().min(1).max(100).default(1),
  /** The jti of the ECT the outcome is about (the action, the vote), when there is one. */
  evidence: z.string().max(256).optional(),
  note: z.string().max(256).optional(),
});
export type TrustReportBody = z.infer<typeof TrustReportBody>;
export type TrustReportBodyInput = z.input<typeof TrustReportBody>;

/** A report as sent to the trust actor: the body plus the observer's ECT over it. */
export const TrustReport = z.strictObject({
  type: z.literal("tether.trust.v1.report"),
  body: TrustReportBody,
  token: z.string().min(1).max(16 * 1024),
});
export type TrustReport = z.infer<typeof TrustReport>;

export const TrustScoreQuery = z.strictObject({ type: z.literal("tether.trust.v1.score"), agent: AgentId });
export const TrustShowQuery = z.strictObject({ type: z.literal("tether.trust.v1.show"), agent: AgentId });
export const TrustListQuery = z.strictObject({ type: z.literal("tether.trust.v1.list") });

/**
 * Read the ECT stream on from the checkpointed position (at most `limit` records) and count the
 * outcomes the verified records prove. `tick` marks the actor's own timer (it re-arms after it).
 */
export const TrustIngest = z.strictObject({ type: z.literal("tether.trust.v1.ingest"), limit: z.int().min(1).max(100_000).default(5_000), tick: z.boolean().optional() });
export type TrustIngest = z.infer<typeof TrustIngest>;

/** The quarantines the trust actor issued (most recent last). */
export const TrustQuarantinesQuery = z.strictObject({ type: z.literal("tether.trust.v1.quarantines") });

/** Everything the trust actor accepts. */
export const TrustMessage = z.discriminatedUnion("type", [TrustReport, TrustScoreQuery, TrustShowQuery, TrustListQuery, TrustIngest, TrustQuarantinesQuery]);
export type TrustMessage = z.infer<typeof TrustMessage>;

/** One agent's score: the posterior mean of its beta reputation, decayed to `at`. */
export const TrustScore = z.strictObject({
  agent: AgentId,
  /** alpha / (alpha + beta), in (0, 1). */
  score: z.number().min(0).max(1),
  /** Prior plus the (decayed, per-observer capped) positive evidence. */
  alpha: z.number().min(0),
  /** Prior plus the (decayed, per-observer capped) negative evidence. */
  beta: z.number().min(0),
  /** Observers whose evidence counts; 0 means the score is the newcomer prior. */
  observers: z.int().min(0),
  /** Reports accepted about this agent, ever. */
  reports: z.int().min(0),
  /** When the score was computed (epoch ms, the actor's clock). */
  at: z.int(),
});
export type TrustScore = z.infer<typeof TrustScore>;

/** One observer's share of a score. `positive`/`negative` are decayed and capped as they count. */
export const ObserverShare = z.strictObject({
  observer: ObserverId,
  positive: z.number().min(0),
  negative: z.number().min(0),
  /** True when this observer's evidence reached the cap (its further reports of that sign move nothing). */
  capped: z.boolean(),
  reports: z.int().min(0),
  lastAt: z.int(),
});
export type ObserverShare = z.infer<typeof ObserverShare>;

/** A recent accepted report (the evidence trail `tether trust show` prints). */
export const EvidenceEntry = z.strictObject({
  observer: ObserverId,
  outcome: TrustOutcome,
  count: z.int().min(1),
  at: z.int(),
  /** The observer's report ECT. */
  report: z.string().max(256),
  /** The trust actor's assertion ECT (parent: the report). */
  assertion: z.string().max(256).optional(),
  evidence: z.string().max(256).optional(),
  note: z.string().max(256).optional(),
});
export type EvidenceEntry = z.infer<typeof EvidenceEntry>;

/** A score with the evidence behind it. */
export const TrustExplanation = z.strictObject({
  score: TrustScore,
  prior: z.strictObject({ alpha: z.number(), beta: z.number() }),
  halfLifeMs: z.number(),
  observerCap: z.number(),
  shares: z.array(ObserverShare),
  recent: z.array(EvidenceEntry),
});
export type TrustExplanation = z.infer<typeof TrustExplanation>;

/** A quarantine the trust actor issued through the override plane (a pause of one agent). */
export const TrustQuarantine = z.strictObject({
  agent: AgentId,
  /** The pause override's id (fixed per agent and quarantine, so a retry after a crash does not issue twice). */
  overrideId: z.string().max(128),
  /** `score` (fell below the threshold) or `violation` (a profile violation whose response is quarantine). */
  cause: z.enum(["score", "violation"]),
  score: z.number(),
  /** The ECT that tipped it (the action, violation or drift evidence). */
  evidence: z.string().max(256).optional(),
  at: z.int(),
  /** Whether the override plane accepted the pause (false: pending, retried by the next ingest). */
  issued: z.boolean(),
  /** Acknowledged / expected when issued (null: not known, e.g. issued before a restart). */
  acked: z.int().nullable(),
  expected: z.int().nullable(),
  error: z.string().max(512).optional(),
});
export type TrustQuarantine = z.infer<typeof TrustQuarantine>;

/** What one ingest did. */
export const TrustIngestResult = z.strictObject({
  /** ECT records read (every record of the stream, counted or not). */
  read: z.int(),
  /** Outcomes counted. */
  counted: z.int(),
  /** Records refused (token does not verify, wrong signer, replayed, stored late). */
  rejected: z.int(),
  /** Stream sequence the checkpoint now covers. */
  position: z.int(),
  more: z.boolean(),
  quarantined: z.array(TrustQuarantine),
});
export type TrustIngestResult = z.infer<typeof TrustIngestResult>;
