import { z } from "zod";

/**
 * Who a key belongs to, and so what it may do (see `ControlRoles` in control-roles.ts).
 * People: `owner`, `admin`, `operator`, `approver`, `observer`. Machines: `node` (a Tether node),
 * `agent` (an agent's own key), `audit` (the ledger actor's checkpoint key). The first four values are
 * the original v1 roles, so every record written before the people roles existed still parses.
 * Operator keys (human override, approvals) are never node keys.
 */
export const KeyRole = z.enum(["node", "agent", "operator", "audit", "owner", "admin", "approver", "observer"]);
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

/**
 * Control body: publish a public key in the network's registry (sent signed to any node, which
 * checks the signer's role, writes the record and records `key.published` in the ledger).
 */
export const KeyPublishRequest = z.strictObject({
  type: z.literal("tether.node.v1.key-publish"),
  kid: z.string().min(1).max(128),
  alg: z.enum(["ES256", "EdDSA"]),
  role: KeyRole,
  owner: z.string().min(1).max(256),
  jwk: z.record(z.string().max(16), z.unknown()),
});
export type KeyPublishRequest = z.infer<typeof KeyPublishRequest>;

/** Control body: revoke a key on every node (checked and recorded like a publish). */
export const KeyRevokeRequest = z.strictObject({
  type: z.literal("tether.node.v1.key-revoke"),
  kid: z.string().min(1).max(128),
  reason: z.string().min(1).max(1024),
});
export type KeyRevokeRequest = z.infer<typeof KeyRevokeRequest>;
