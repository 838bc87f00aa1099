import { z } from "zod";

const AgentId = z.string().min(1).max(128);

/** Appraise the ECT records stored since the last appraisal (at most `limit` of them). */
export const VerifierAppraise = z.strictObject({
  type: z.literal("tether.verifier.v1.appraise"),
  limit: z.int().min(1).max(100_000).default(1000),
  /** Marks the verifier's own timer (it re-arms after the appraisal). */
  tick: z.boolean().optional(),
});
/** The findings kept in state, optionally of one agent. */
export const VerifierFindingsQuery = z.strictObject({ type: z.literal("tether.verifier.v1.findings"), agent: AgentId.optional() });
/** One agent's monitored series: baseline mean and sd, and the current statistics. */
export const VerifierShowQuery = z.strictObject({ type: z.literal("tether.verifier.v1.show"), agent: AgentId });

export const VerifierMessage = z.discriminatedUnion("type", [VerifierAppraise, VerifierFindingsQuery, VerifierShowQuery]);
export type VerifierMessage = z.infer<typeof VerifierMessage>;

export const VerifierFinding = z.strictObject({
  agent: AgentId,
  series: z.string().max(512),
  direction: z.enum(["up", "down"]),
  statistic: z.number(),
  baselineMean: z.number(),
  baselineSd: z.number(),
  after: z.int(),
  ect: z.string().max(256),
  at: z.number(),
  /** The drift evidence ECT the verifier minted (parent: `ect`). */
  evidence: z.string().max(256).optional(),
});
export type VerifierFinding = z.infer<typeof VerifierFinding>;

export const AppraisalResult = z.strictObject({
  appraised: z.int(),
  rejected: z.int(),
  position: z.int(),
  /** Whether the stream holds more records than this appraisal read. */
  more: z.boolean(),
  findings: z.array(VerifierFinding),
});
export type AppraisalResult = z.infer<typeof AppraisalResult>;
