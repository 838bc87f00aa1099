import { TETHER_EXT_PREFIX, TetherError, isTetherError, verifyEct, verifyUnsignedEct, type EctClaims, type TrustReport } from "../../protocols/index.ts";
import { hashValue, networkAudience, type Clock, type Node } from "../../runtime/index.ts";
import { mintActorEct, type ActorEct, type MintedEct } from "../ect-minter.ts";
import type { AcceptedReport } from "./trust-book.ts";
import type { EctFeed } from "./ect-feed.ts";
import type { QuarantinePort } from "./trust-quarantine.ts";

/** What the trust actor needs from its node (`trustPort(node)` builds it). */
export interface TrustPort {
  /** The clock scores decay on (the node's unless a test passes a fake one). */
  readonly clock: Clock;
  /** Verifies a report: the observer's token over exactly this body. Throws ERR_TRUST_REPORT_INVALID. */
  verify(report: TrustReport): Promise<AcceptedReport>;
  /** Mints and stores an ECT issued by the trust actor (the trust assertion). */
  mint(p: ActorEct): Promise<MintedEct>;
  /** Appends an event to the audit ledger (and logs when it cannot). */
  record(event: string, subject: string, details: Record<string, unknown>): Promise<void>;
  /** The ECT stream, verified (absent: the actor counts explicit reports only). */
  readonly feed?: EctFeed | undefined;
  /** A record must be stored within this many ms of its token's iat (the feed's window). */
  readonly storeWindowMs: number;
  /** Quarantine below a threshold through the override plane (absent: scores only). */
  readonly quarantine?: QuarantinePort | undefined;
  /** Sends a message to an actor (the actor's own timer ticks). */
  tell(actorId: string, msg: unknown): void;
}

/** What `trustPort` adds to a node: the ECT feed and the quarantine port. */
export interface TrustPortExtras {
  readonly feed?: EctFeed | undefined;
  readonly storeWindowMs?: number;
  readonly quarantine?: QuarantinePort | undefined;
}

/** Key roles whose holders may vouch for an observer: a node's key (for the actors it hosts) or the agent's own key. */
const REPORTER_ROLES: ReadonlySet<string> = new Set(["node", "agent"]);

const refuse = (reason: string, details: Record<string, unknown> = {}, cause?: unknown): TetherError =>
  new TetherError("ERR_TRUST_REPORT_INVALID", `trust report refused: ${reason}`, { details: { reason, ...details }, ...(cause === undefined ? {} : { cause }) });

/** `tether://<network>/agent/<id>` → `<id>` (undefined for another network or form). */
const agentOf = (iss: string, network: string): string | undefined => {
  const prefix = `tether://${network}/agent/`;
  return iss.startsWith(prefix) ? iss.slice(prefix.length) : undefined;
};

/**
 * The port over a node. A report counts only with the observer's ECT: `exec_act` `trust.report`,
 * issuer the observer, `inp_hash` the hash of the report body, audience this network, within its
 * lifetime, signed by a registered `node` key (of the node named in the token) or `agent` key (of the
 * observer itself). On a relaxed (L1) node, unsigned tokens are accepted: anyone who can publish to
 * the trust actor can then report as anyone (documented in docs/trust.md).
 */
export const trustPort = (node: Node, clock: Clock = node.clock, extras: TrustPortExtras = {}): TrustPort => ({
  clock,
  feed: extras.feed,
  storeWindowMs: extras.storeWindowMs ?? node.options.assurance.clockSkewSeconds * 1000 + 1000,
  quarantine: extras.quarantine,
  tell: (actorId, msg) => node.ref(actorId).tell(msg),
  verify: async (report) => {
    const network = node.network;
    const skew = node.options.assurance.clockSkewSeconds;
    const common = { audience: networkAudience(network), clockSkewSeconds: skew, now: () => node.clock.now(), allowMissingParents: true };
    let claims: EctClaims;
    try {
      if (!report.token.includes(".")) {
        if (node.assurance.level !== "L1") throw refuse("unsigned report tokens are accepted only on relaxed (L1) nodes");
        claims = (await verifyUnsignedEct(report.token, common)).claims;
      } else {
        const v = await verifyEct(report.token, { ...common, keys: node.assurance.keys });
        claims = v.claims;
        const kid = v.header?.kid ?? "";
        const key = await node.assurance.keys.lookup(kid);
        if (typeof key !== "object" || !REPORTER_ROLES.has(key.role)) throw refuse("the report is not signed by a node or agent key", { kid });
        const observerId = agentOf(claims.iss, network);
        const signedByNode = key.role === "node" && claims.ext?.[`${TETHER_EXT_PREFIX}node`] === key.owner;
        const signedByAgent = key.role === "agent" && key.owner === observerId;
        if (!signedByNode && !signedByAgent) throw refuse("the signing key does not belong to the observer or its node", { kid, owner: key.owner });
      }
    } catch (error) {
      if (isTetherError(error) && error.code === "ERR_TRUST_REPORT_INVALID") throw error;
      throw refuse(`its token does not verify (${isTetherError(error) ? error.code : "malformed"})`, isTetherError(error) ? { cause: error.code } : {}, error);
    }
    const observer = agentOf(claims.iss, network);
    if (observer === undefined) throw refuse("the token's issuer is not an agent of this network", { iss: claims.iss.slice(0, 256) });
    if (claims.exec_act !== "trust.report") throw refuse("the token is not a trust report", { act: claims.exec_act.slice(0, 256) });
    if (claims.inp_hash !== hashValue(report.body)) throw refuse("the token does not cover this report body");
    if (observer === report.body.subject) throw refuse("an agent cannot report on itself", { observer });
    return {
      observer: `agent:${observer}`,
      subject: report.body.subject,
      outcome: report.body.outcome,
      count: report.body.count,
      jti: claims.jti,
      expiresAt: (claims.exp + skew) * 1000,
      evidence: report.body.evidence,
      note: report.body.note,
    };
  },
  mint: (p) => mintActorEct(node, p),
  record: async (event, subject, details) => {
    await node.assurance.recordEvent(event, subject, details).catch(() => undefined);
  },
});
