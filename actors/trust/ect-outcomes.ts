import { ROLLBACK_CAUSED_ACT, TETHER_EXT_PREFIX, type EctClaims, type TrustOutcome } from "../../protocols/index.ts";

/** An outcome a verified ECT proves: who did what, as observed by whom (see docs/trust.md). */
export interface DerivedOutcome {
  /** `node:<id>` (the runtime that signed the action or violation record) or `agent:<verifier>`. */
  readonly observer: string;
  readonly subject: string;
  readonly outcome: TrustOutcome;
  /** The record's jti (the evidence the score traces back to). */
  readonly jti: string;
  /** A profile violation whose response is `quarantine`: pause the agent whatever its score. */
  readonly quarantine?: boolean;
}

/** Who signed the token (undefined: an unsigned L1 token on a relaxed network). */
export interface TokenSigner {
  readonly role: string;
  readonly owner: string;
}

export interface DeriveOptions {
  readonly network: string;
  /** Agent ids whose `tether.verifier.drift` evidence counts (default: the verifier's id). */
  readonly verifiers: readonly string[];
  /** Agents that are not scored (the built-in actors: trust, verifier, consensus, approvals, override, audit). */
  readonly ignore: ReadonlySet<string>;
}

/** Record types that are not an agent's own action: evidence and oversight records, reports, votes, workflow bookkeeping, compensations. */
const NOT_ACTIONS = /^(tether\.|trust\.|consensus\.|approval\.|workflow\.|compensate:)/;

const agentOf = (iss: string, network: string): string | undefined => {
  const prefix = `tether://${network}/agent/`;
  return iss.startsWith(prefix) ? iss.slice(prefix.length) : undefined;
};

const isTimeout = (code: unknown): boolean => typeof code === "string" && code.includes("TIMEOUT");

/**
 * The outcome a verified ECT proves, or why it proves none it could count (a string: the record is
 * refused), or undefined (nothing to count: an evidence record of another kind, a built-in actor).
 *
 * - an action (`exec_act` the action's name): `success` when its signed outcome is ok, `timeout` when
 *   it failed with a timeout code, `failure` when it failed otherwise (quota refusals count nothing);
 * - a profile violation (`tether.profile.violation`) whose response is `trust-penalty` or `quarantine`:
 *   `violation` (`block` and `escalate` leave trust alone);
 * - a drift finding (`tether.verifier.drift`) issued by a configured verifier: `drift`, about the agent it names;
 * - a rollback cause (`tether.rollback.caused`, minted when `node.rollback` names a cause and compensated
 *   something): `rollback-caused`, about the agent it blames, signed by the node that ran the rollback.
 *
 * Actions and violations are observed by the runtime that signed them: the token must be signed by the
 * `node` key of the node it names (`dev.tether.node`), or by the agent's own `agent` key. The observer
 * is that node (`node:<id>`), so the per-observer cap bounds what any one node can do to a score.
 */
export const deriveOutcome = (claims: EctClaims, signer: TokenSigner | undefined, o: DeriveOptions): DerivedOutcome | string | undefined => {
  const issuer = agentOf(claims.iss, o.network);
  if (issuer === undefined) return undefined;
  if (issuer.length > 128) return "issuer id longer than 128 characters";
  const ext = claims.ext ?? {};
  const node = ext[`${TETHER_EXT_PREFIX}node`];
  const act = claims.exec_act;
  if (act === "tether.verifier.drift") {
    if (!o.verifiers.includes(issuer)) return `drift evidence issued by ${issuer.slice(0, 128)}, not a verifier`;
    if (signer !== undefined && !(signer.role === "node" && signer.owner === node)) return "drift evidence not signed by its node's key";
    const drift = ext[`${TETHER_EXT_PREFIX}drift`] as { agent?: unknown } | undefined;
    if (typeof drift?.agent !== "string" || drift.agent.length === 0 || drift.agent.length > 128) return "drift evidence names no agent";
    if (o.ignore.has(drift.agent)) return undefined;
    return { observer: `agent:${issuer}`, subject: drift.agent, outcome: "drift", jti: claims.jti };
  }
  if (o.ignore.has(issuer)) return undefined;
  const signedByRuntime = signer === undefined || (signer.role === "node" && signer.owner === node) || (signer.role === "agent" && signer.owner === issuer);
  if (act === "tether.profile.violation") {
    const v = ext[`${TETHER_EXT_PREFIX}violation`] as { response?: unknown } | undefined;
    if (v?.response !== "trust-penalty" && v?.response !== "quarantine") return undefined;
    if (!signedByRuntime) return "violation evidence not signed by the agent's node or the agent";
    if (typeof node !== "string") return "violation evidence names no node";
    return { observer: `node:${node.slice(0, 128)}`, subject: issuer, outcome: "violation", jti: claims.jti, ...(v.response === "quarantine" ? { quarantine: true } : {}) };
  }
  if (act === ROLLBACK_CAUSED_ACT) {
    // blame for a rollback is the judgement of the node that ran it: its own key, never the agent's
    if (signer !== undefined && !(signer.role === "node" && signer.owner === node)) return "rollback cause not signed by its node's key";
    if (typeof node !== "string") return "rollback cause names no node";
    return { observer: `node:${node.slice(0, 128)}`, subject: issuer, outcome: "rollback-caused", jti: claims.jti };
  }
  if (NOT_ACTIONS.test(act)) return undefined;
  const outcome = ext[`${TETHER_EXT_PREFIX}outcome`];
  if (outcome !== "ok" && outcome !== "failed") return undefined;
  if (!signedByRuntime) return "action record not signed by the agent's node or the agent";
  if (typeof node !== "string") return "action record names no node";
  const derived: TrustOutcome = outcome === "ok" ? "success" : isTimeout(ext[`${TETHER_EXT_PREFIX}error`]) ? "timeout" : "failure";
  return { observer: `node:${node.slice(0, 128)}`, subject: issuer, outcome: derived, jti: claims.jti };
};
