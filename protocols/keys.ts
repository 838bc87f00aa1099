import { z } from "zod";

/** Who a key belongs to. Operator keys (human override, approvals) are never node keys. */
export const KeyRole = z.enum(["node", "agent", "operator", "audit"]);
export type KeyRole = z.infer<typeof KeyRole>;

/** `active` keys sign; `retired` keys still verify for a grace period (their tokens' lifetime); `revoked` keys never verify. */
export const KeyStatus = z.enum(["active", "retired", "revoked"]);
export type KeyStatus = z.infer<typeof KeyStatus>;

/** One public key in a network's key registry (JetStream KV `tether_<net>_keys`, key `key.<kid>`). */
export const KeyRecord = z.strictObject({
  type: z.literal("tether.keys.v1.key"),
  kid: z.string().min(1).max(128),
  alg: z.enum(["ES256", "EdDSA"]),
  role: KeyRole,
  /** Node id, agent id, operator name, or the audit actor's id. */
  owner: z.string().min(1).max(256),
  status: KeyStatus,
  /** The public JWK (with kid, alg, use). */
  jwk: z.record(z.string().max(16), z.unknown()),
  createdAt: z.number().int(),
  retiredAt: z.number().int().optional(),
  revokedAt: z.number().int().optional(),
  reason: z.string().max(1024).optional(),
});
export type KeyRecord = z.infer<typeof KeyRecord>;
