import { z } from "zod";
import type { KeyRole } from "./keys.ts";

/**
 * Membership of a network (seed 04: owner, administrator, member). A member is an identity (a person,
 * a team, an agent's operator) holding one or more keys of the network's key registry; what a key may
 * do on the control plane is its key role (`ControlRoles`), and which key roles a member may hold is
 * its membership role. The one matrix:
 *
 * | membership role | key roles it may hold                    | may add / remove members of role | may set policy |
 * |-----------------|------------------------------------------|----------------------------------|----------------|
 * | owner           | owner                                    | owner, admin, member             | yes            |
 * | admin           | admin                                    | member                           | yes            |
 * | member          | operator, approver, observer, agent      | none                             | no             |
 *
 * A signer's membership role is read off its key role (`memberRoleOfKey`): an owner key acts as an
 * owner, an admin key as an admin, anything else as a member (node and audit keys are machines and
 * belong to no member). So `member.add`, `member.remove` and `policy.set` are authorised by the same
 * signed control path and the same `ControlRoles` matrix as every other control message.
 */
export const MemberRole = z.enum(["owner", "admin", "member"]);
export type MemberRole = z.infer<typeof MemberRole>;

export const MembershipRoles = {
  owner: { keyRoles: ["owner"], manages: ["owner", "admin", "member"], setsPolicy: true },
  admin: { keyRoles: ["admin"], manages: ["member"], setsPolicy: true },
  member: { keyRoles: ["operator", "approver", "observer", "agent"], manages: [], setsPolicy: false },
} as const satisfies Record<MemberRole, { keyRoles: readonly KeyRole[]; manages: readonly MemberRole[]; setsPolicy: boolean }>;

/** The membership role a key of `role` acts with (undefined for machine keys: node, audit). */
export const memberRoleOfKey = (role: KeyRole): MemberRole | undefined => {
  for (const member of MemberRole.options) if ((MembershipRoles[member].keyRoles as readonly KeyRole[]).includes(role)) return member;
  return undefined;
};

/** Whether a key of `signer` role may add, change or remove a member of `target` role. */
export const mayManageMember = (signer: KeyRole, target: MemberRole): boolean => {
  const as = memberRoleOfKey(signer);
  return as !== undefined && (MembershipRoles[as].manages as readonly MemberRole[]).includes(target);
};

/** Whether a member of `member` role may hold a key of `key` role. */
export const memberMayHoldKey = (member: MemberRole, key: KeyRole): boolean => (MembershipRoles[member].keyRoles as readonly KeyRole[]).includes(key);

/** A member id: what its keys name as `owner` (`tether keys create-operator <name>`), KV-key safe. */
export const MemberId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/, "a member id is 1-128 characters of A-Z a-z 0-9 _ -, starting with a letter or digit");

const Kid = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/);

/** Who made a change: the verified signer of the control message. */
export const ChangeActor = z.strictObject({ kid: z.string().max(128), role: z.string().max(32), owner: z.string().max(256) });
export type ChangeActor = z.infer<typeof ChangeActor>;

/** One member of a network, as nodes derive it from a verified `member-add` entry. */
export const MemberRecord = z.strictObject({
  type: z.literal("tether.members.v1.member"),
  id: MemberId,
  role: MemberRole,
  /** kids of its keys in the key registry (each owned by `id`, of a key role its membership role may hold). */
  keys: z.array(Kid).min(1).max(16),
  /** When the signed add was issued (epoch ms). */
  since: z.number().int().nonnegative(),
  by: ChangeActor,
});
export type MemberRecord = z.infer<typeof MemberRecord>;

/** Control body: add a member, or change an existing member's role or keys (owner/admin; see the matrix). */
export const MemberAddRequest = z.strictObject({
  type: z.literal("tether.node.v1.member-add"),
  member: MemberId,
  role: MemberRole,
  keys: z.array(Kid).min(1).max(16),
});
export type MemberAddRequest = z.infer<typeof MemberAddRequest>;

/** Control body: remove a member (its keys stay in the registry: revoke them with `tether keys revoke`). */
export const MemberRemoveRequest = z.strictObject({
  type: z.literal("tether.node.v1.member-remove"),
  member: MemberId,
  reason: z.string().min(1).max(1024).optional(),
});
export type MemberRemoveRequest = z.infer<typeof MemberRemoveRequest>;
