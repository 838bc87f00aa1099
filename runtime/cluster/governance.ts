import {
  aRole,
  TetherError,
  agentRefusal,
  attestGovernance,
  entryKeyOf,
  governanceKeys,
  mayManageMember,
  memberMayHoldKey,
  profileRank,
  type AssuranceProfileName,
  type ControlEnvelope,
  type GovernanceBody,
  type KeyRole,
  type MemberAddRequest,
  type MemberRecord,
  type MemberRemoveRequest,
  type NetworkPolicy,
  type PolicySetRequest,
  type SigningKey,
  type VerifiedControl,
  type VerifiedGovernance,
} from "../../protocols/index.ts";
import type { RecordEvent } from "../assurance/violation-log.ts";
import { ViolationLog } from "../assurance/violation-log.ts";
import type { NodeCore } from "../node-core.ts";
import { GovernanceStore, historicKeys } from "../stores/governance-store.ts";
import type { KeyRegistry } from "../stores/key-registry.ts";

export interface GovernanceParams {
  readonly core: NodeCore;
  readonly keys: KeyRegistry;
  /** The key this node attests accepted changes with (its control key). */
  readonly signingKey: () => SigningKey;
  readonly recordEvent: RecordEvent;
}

/** What a node answers to an accepted membership or policy change. */
export interface GovernanceAnswer {
  readonly ok: true;
  readonly event: string;
  readonly old: unknown;
  readonly new: unknown;
}

/**
 * Membership and policy of the network, as one node applies and enforces them:
 * - `apply` runs a verified `member-add`, `member-remove` or `policy-set` (the signature and role were
 *   checked by the control guard): the checks that depend on the network's state (maximum members, the
 *   member's keys, the last owner, a policy below the current membership), then writes the signed
 *   token with this node's attestation to the governance bucket and records the change in the ledger
 *   with who, when, the old and the new value. Changes are applied one at a time per node.
 * - `assertProfile` and `admit` enforce the policy: a node below the minimum profile does not start,
 *   and an agent whose type or capabilities the policy does not allow is not spawned; each refusal is
 *   a violation record.
 */
export class Governance {
  readonly #core: NodeCore;
  #store!: GovernanceStore;
  readonly #keys: KeyRegistry;
  readonly #signingKey: () => SigningKey;
  readonly #record: RecordEvent;
  readonly #violations: ViolationLog;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(p: GovernanceParams) {
    this.#core = p.core;
    this.#keys = p.keys;
    this.#signingKey = p.signingKey;
    this.#record = p.recordEvent;
    this.#violations = new ViolationLog(p.recordEvent, () => p.core.clock.now());
  }

  /** Opens the network's governance bucket (verifying every entry on read; untrusted ones are recorded). */
  static async open(p: GovernanceParams): Promise<Governance> {
    const governance = new Governance(p);
    const { core } = p;
    governance.#store = await GovernanceStore.open(core.nc, core.subjects, historicKeys(p.keys), {
      replicas: core.options.jetstreamReplicas,
      logger: core.logger,
      maxBytes: core.options.storage.governanceMb * 1024 * 1024,
      onUntrusted: (entryKey, error) => governance.untrusted(entryKey, error),
    });
    return governance;
  }

  /** The policy in force (verified on read; the default when none was set). */
  policy(): NetworkPolicy {
    return this.#store.policy();
  }

  /** The members in force, oldest first. */
  members(): MemberRecord[] {
    return this.#store.members();
  }

  /**
   * Whether a person's key may act on the control plane. Once the network has an owner member, only
   * the keys of members (the key's owner is a member) of a key role that member's role may hold; before
   * that, every registered key acts by its role alone. An owner member always remains (the last one
   * cannot be removed or demoted), so gating can never lock every owner out.
   */
  mayAct(signer: { readonly role: KeyRole; readonly owner: string }): boolean {
    const members = this.#store.members();
    if (!members.some((m) => m.role === "owner")) return true;
    const member = members.find((m) => m.id === signer.owner);
    return member !== undefined && memberMayHoldKey(member.role, signer.role);
  }

  /** Applies a verified governance change (serialized per node). Refusals throw typed errors. */
  apply(verified: VerifiedControl, envelope: ControlEnvelope): Promise<GovernanceAnswer> {
    const run = this.#queue.then(() => this.#apply(verified, envelope));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #apply(verified: VerifiedControl, envelope: ControlEnvelope): Promise<GovernanceAnswer> {
    const body = verified.body as GovernanceBody;
    const entryKey = entryKeyOf(body);
    const current = this.#store.current(entryKey);
    if (current !== undefined && current.issuedAt >= verified.issuedAt) {
      throw new TetherError("ERR_GOVERNANCE_STALE", `a change to ${entryKey} issued at ${current.issuedAt} is already in force; this one was issued at ${verified.issuedAt}`);
    }
    const change =
      body.type === "tether.node.v1.member-add" ? await this.#memberAdd(body, verified) : body.type === "tether.node.v1.member-remove" ? this.#memberRemove(body, verified) : this.#policySet(body);
    const at = this.#core.clock.now();
    const attestation = await attestGovernance(this.#signingKey(), { network: this.#core.network, entry: entryKey, at, node: this.#core.id }, envelope.token);
    const by = { kid: verified.kid, role: verified.role, owner: verified.owner };
    const stored: VerifiedGovernance = { body, by, issuedAt: verified.issuedAt, at, node: this.#core.id };
    await this.#store.write(entryKey, { type: "tether.governance.v1.entry", token: envelope.token, attestation }, stored);
    await this.#record(change.event, change.subject, { by, at, node: this.#core.id, old: change.old, new: change.new, ...change.extra });
    return { ok: true, event: change.event, old: change.old, new: change.new };
  }

  async #memberAdd(body: MemberAddRequest, verified: VerifiedControl): Promise<Change> {
    const existing = this.#store.member(body.member);
    if (existing !== undefined && !mayManageMember(verified.role, existing.role)) {
      throw forbidden(verified, `${aRole(verified.role)} key may not change member ${body.member}, who is ${aRole(existing.role)}`);
    }
    for (const kid of body.keys) {
      const key = await this.#keys.get(kid);
      if (key === undefined || key.status !== "active" || key.owner !== body.member || !memberMayHoldKey(body.role, key.role)) {
        const why = key === undefined ? "is not in the key registry" : key.status !== "active" ? `is ${key.status}` : key.owner !== body.member ? `belongs to ${key.owner}` : `is a ${key.role} key, which a ${body.role} may not hold`;
        throw new TetherError("ERR_MEMBER_KEY_INVALID", `key ${kid} ${why}`, { details: { member: body.member, kid } });
      }
    }
    const members = this.#store.members();
    const policy = this.#store.policy();
    if (existing === undefined && members.length >= policy.maxMembers) {
      throw new TetherError("ERR_MEMBER_LIMIT_REACHED", `network ${this.#core.network} has ${members.length} members, its policy's maximum`, { details: { maxMembers: policy.maxMembers } });
    }
    if (existing?.role === "owner" && body.role !== "owner") this.#assertOtherOwner(body.member);
    const next: MemberRecord = { type: "tether.members.v1.member", id: body.member, role: body.role, keys: [...body.keys], since: verified.issuedAt, by: { kid: verified.kid, role: verified.role, owner: verified.owner } };
    const event = existing === undefined ? "member.added" : existing.role !== body.role ? "member.role-changed" : "member.changed";
    return { event, subject: body.member, old: existing ?? null, new: next, extra: {} };
  }

  #memberRemove(body: MemberRemoveRequest, verified: VerifiedControl): Change {
    const existing = this.#store.member(body.member);
    if (existing === undefined) throw new TetherError("ERR_MEMBER_NOT_FOUND", `no member ${body.member} in network ${this.#core.network}`);
    if (!mayManageMember(verified.role, existing.role)) throw forbidden(verified, `${aRole(verified.role)} key may not remove member ${body.member}, who is ${aRole(existing.role)}`);
    if (existing.role === "owner") this.#assertOtherOwner(body.member);
    return { event: "member.removed", subject: body.member, old: existing, new: null, extra: body.reason === undefined ? {} : { reason: body.reason } };
  }

  #policySet(body: PolicySetRequest): Change {
    const count = this.#store.members().length;
    if (body.policy.maxMembers < count) {
      throw new TetherError("ERR_POLICY_INVALID", `maxMembers ${body.policy.maxMembers} is below the current ${count} members: remove members first`, { details: { maxMembers: body.policy.maxMembers, members: count } });
    }
    const set = this.#store.current(governanceKeys.policy) !== undefined;
    return { event: "policy.changed", subject: this.#core.network, old: { ...this.#store.policy(), ...(set ? {} : { default: true }) }, new: body.policy, extra: {} };
  }

  #assertOtherOwner(member: string): void {
    if (!this.#store.members().some((m) => m.role === "owner" && m.id !== member)) {
      throw new TetherError("ERR_MEMBER_LAST_OWNER", `${member} is the network's last owner member: add another owner first`);
    }
  }

  /** Refuses (ERR_POLICY_PROFILE_TOO_LOW, recorded) when `profile` is below the policy's minimum. */
  async assertProfile(profile: AssuranceProfileName): Promise<void> {
    const refusal = this.#profileRefusal(profile);
    if (refusal === undefined) return;
    await this.#record("violation", this.#core.id, { source: "policy", code: refusal.code, reason: refusal.message, node: this.#core.id, profile, at: this.#core.clock.now() });
    throw refusal;
  }

  /** Refuses (typed, recorded) an agent the policy does not allow to join, or any agent on a node below the minimum profile. */
  admit(actorId: string, agentType: string, capabilities: readonly string[]): void {
    if (actorId === this.#core.options.assurance.ledger.actorId) return; // the audit ledger records the refusals themselves
    const profile = this.#profileRefusal(this.#core.options.assurance.profile);
    const refusal = profile ?? toError(agentRefusal(this.#store.policy(), agentType, capabilities));
    if (refusal === undefined) return;
    this.#violations.record(actorId, { source: "policy", code: refusal.code, reason: refusal.message.slice(0, 512), node: this.#core.id, agentType: agentType.slice(0, 256), capabilities: capabilities.slice(0, 64) });
    throw refusal;
  }

  #profileRefusal(profile: AssuranceProfileName): TetherError | undefined {
    const min = this.#store.policy().minProfile;
    if (profileRank(profile) >= profileRank(min)) return undefined;
    return new TetherError("ERR_POLICY_PROFILE_TOO_LOW", `node ${this.#core.id} runs the ${profile} profile; network ${this.#core.network} requires at least ${min}`, { details: { profile, minProfile: min } });
  }

  /** Reports a governance bucket entry that did not verify (rate-limited violation record). */
  untrusted(entryKey: string, error: TetherError): void {
    this.#core.logger.warn("ignoring an untrusted governance entry", { key: entryKey, reason: error.message });
    this.#violations.record(entryKey, { source: "governance", code: error.code, reason: error.message.slice(0, 512), node: this.#core.id });
  }

  close(): void {
    this.#store.close();
  }
}

interface Change {
  readonly event: string;
  readonly subject: string;
  readonly old: unknown;
  readonly new: unknown;
  readonly extra: Record<string, unknown>;
}

const forbidden = (verified: VerifiedControl, message: string): TetherError =>
  new TetherError("ERR_CONTROL_FORBIDDEN", message, { details: { kid: verified.kid, role: verified.role, owner: verified.owner, operation: verified.operation } });

const toError = (refusal: ReturnType<typeof agentRefusal>): TetherError | undefined => (refusal === undefined ? undefined : new TetherError(refusal.code, refusal.reason));
