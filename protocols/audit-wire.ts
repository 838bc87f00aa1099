import { z } from "zod";

/** One entry a node asks the ledger to append: an ECT, or a security event. */
export const AuditEntry = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("ect"), token: z.string().min(1).max(16 * 1024), level: z.enum(["L1", "L2", "L3"]) }),
  z.strictObject({
    kind: z.literal("event"),
    event: z.string().min(1).max(128),
    subject: z.string().max(256).optional(),
    details: z.record(z.string().max(128), z.unknown()),
  }),
]);
export type AuditEntry = z.infer<typeof AuditEntry>;

/** Messages of the audit ledger actor. */
export const AuditMsg = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("tether.audit.v1.append"), entries: z.array(AuditEntry).min(1).max(1000) }),
  /** Closes the current batch with a signed checkpoint now. */
  z.strictObject({ type: z.literal("tether.audit.v1.checkpoint") }),
]);
export type AuditMsg = z.infer<typeof AuditMsg>;

/** Per entry: where it landed in the chain, or why it was refused. */
export const AuditReceipt = z.union([
  z.strictObject({
    index: z.number().int().nonnegative(),
    hash: z.string().length(43),
    /** For an ECT entry: the signed receipt (`signReceipt`) that rides on the token's messages. */
    receipt: z.string().max(2048).optional(),
  }),
  z.strictObject({ error: z.string().max(64), message: z.string().max(1024) }),
]);
export type AuditReceipt = z.infer<typeof AuditReceipt>;
