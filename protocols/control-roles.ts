import type { KeyRole } from "./keys.ts";

/**
 * Everything a signed control message can ask for. `approve` is used by the human-oversight plane
 * (approvals); the others are enforced by every node's control plane today.
 */
export const OverrideOperations = ["override.stop", "override.pause", "override.resume", "override.constrain", "override.rollback", "override.takeover", "override.lift"] as const;
export const ControlOperations = ["activate", "stop", "pause", "fence", "compensate", "key.publish", "key.revoke", "approve", "member.add", "member.remove", "policy.set", ...OverrideOperations] as const;
export type ControlOperation = (typeof ControlOperations)[number];

/**
 * The one matrix of who may do what. A role not listed for an operation is refused with
 * ERR_CONTROL_FORBIDDEN. Why each machine row is what it is:
 * - `node` activates, stops and pauses because supervisors, migration, failover and the cascade
 *   monitor run inside nodes and act through the node's key; it sends fence notices (only for
 *   itself: `by` must be the key's owner) and compensation requests (rollback runs in a node).
 *   A node already hosts actors, so these rights add nothing a compromised node lacks.
 * - `agent` and `audit` keys sign tokens and ledger checkpoints, never control.
 * People: `owner` may do everything; `admin` everything but managing owner and admin keys;
 * `operator` runs actors (activate, stop, pause, compensate); `approver` approves; `observer` reads
 * (nothing on the control plane). Override signals (`override.*`, the human-oversight plane) are
 * for people: owner, admin and operator; no machine key may issue one (a compromised node must not be
 * able to stop the network). Membership and policy (`member.add`, `member.remove`, `policy.set`)
 * are for owners and admins; which members an admin may manage is `MembershipRoles` (membership.ts).
 */
export const ControlRoles = {
  owner: ["activate", "stop", "pause", "compensate", "key.publish", "key.revoke", "approve", "member.add", "member.remove", "policy.set", ...OverrideOperations],
  admin: ["activate", "stop", "pause", "compensate", "key.publish", "key.revoke", "approve", "member.add", "member.remove", "policy.set", ...OverrideOperations],
  operator: ["activate", "stop", "pause", "compensate", ...OverrideOperations],
  approver: ["approve"],
  observer: [],
  node: ["activate", "stop", "pause", "fence", "compensate"],
  agent: [],
  audit: [],
} as const satisfies Record<KeyRole, readonly ControlOperation[]>;

/** Whether a key of `role` may perform `operation` (the matrix above). */
export const mayPerform = (role: KeyRole, operation: ControlOperation): boolean =>
  (ControlRoles[role] as readonly ControlOperation[]).includes(operation);

/**
 * Which keys a signer may publish or revoke: an owner any key; an admin any key but owner and admin
 * keys (so an admin cannot make itself an owner, or remove the owners).
 */
export const mayManageKey = (signer: KeyRole, target: KeyRole): boolean =>
  signer === "owner" || (signer === "admin" && target !== "owner" && target !== "admin");

/** A role with its indefinite article, for messages: "an operator", "a node". */
export const aRole = (role: string): string => `${/^[aeiou]/i.test(role) ? "an" : "a"} ${role}`;
