import { verifySignedFor } from "../verify-signed.ts";
import {
  ApprovalPolicy,
  TETHER_EXT_PREFIX,
  TetherError,
  isTetherError,
  mintEct,
  verifyEct,
  type ApprovalRecord,
  type GateInput,
  type ProposalRecord,
  type ReplayCache,
  type SigningKey,
  type VerifiedControl,
  type Vote,
  type VoteBody,
} from "../../protocols/index.ts";
import { agentUri, hashValue, networkAudience, type Clock, type Node } from "../../runtime/index.ts";
import { mintActorEct, type ActorEct, type MintedEct } from "../ect-minter.ts";
import type { ApprovalClient } from "../approvals/approvals.ts";
import type { TrustClient } from "../trust/trust.ts";

/** What the consensus actor needs from its node (`consensusPort(node, options)` builds it). */
export interface ConsensusPort {
  readonly clock: Clock;
  /** The agents advertising `capability` in the registry (the eligible voters). */
  eligible(capability: string): Promise<string[]>;
  /** The voters' trust scores (1 each when the port has no trust client), read once when a proposal opens. */
  trustOf(agents: readonly string[]): Promise<Record<string, number>>;
  /** Verifies a signed resolve addressed to the consensus actor `target` (signature, key, time, role may `approve`, nonce). */
  verifyResolve(input: unknown, target: string, replay: ReplayCache): Promise<VerifiedControl>;
  /** Opens an approval gate for an escalated proposal (its options are the choices); undefined without an approvals client. */
  openGate(consensusId: string, rec: ProposalRecord): Promise<string | undefined>;
  /** The approval's record as the approvals actor keeps it, once its decision ECT verified; undefined while pending. */
  gateDecision(id: string): Promise<GateOutcome | undefined>;
  /** Verifies a vote's token: the voter's own `agent` key over exactly this body. Returns the voter and the token's jti. */
  verifyVote(vote: Vote): Promise<{ voter: string; jti: string }>;
  mint(p: ActorEct): Promise<MintedEct>;
  /** Tells an actor a message from outside any handler (the deadline timer's tick). */
  tell(actorId: string, msg: unknown): void;
  record(event: string, subject: string, details: Record<string, unknown>): Promise<void>;
  /** Moves a voter's trust after the truth is known (as observer `consensusId`). */
  reportTrust(consensusId: string, voter: string, agreed: boolean, evidence: string): Promise<void>;
  /** Called when a proposal escalates (after the ledger event): open an approval gate, page someone. */
  escalate(record: { proposal: { id: string; question: string }; escalation?: string | undefined }): Promise<void>;
}

/** A human decision at an escalation's approval gate. */
export interface GateOutcome {
  readonly decision: "approve" | "reject";
  readonly choice?: string | undefined;
  readonly by: string;
  readonly role: string;
  /** The decision's ECT (issued by the approvals actor, verified). */
  readonly ect?: string | undefined;
}

export interface ConsensusPortOptions {
  readonly clock?: Clock;
  /** Weights become declared × trust score when given; otherwise declared alone. */
  readonly trust?: TrustClient;
  /** Escalations open an approval gate here (the human's choice becomes the decision). */
  readonly approvals?: ApprovalClient;
  /** The escalation gate: who decides and how long they have. Default approvers, owners and admins; 10 min; then rejected. */
  readonly gate?: GateInput;
  readonly onEscalate?: ConsensusPort["escalate"];
}

export const DEFAULT_ESCALATION_GATE: GateInput = { type: "approval", deciders: { roles: ["approver", "owner", "admin"] }, timeoutMs: 600_000, defaultOutcome: "reject" };

const forged = (detail: string, cause?: unknown): TetherError =>
  new TetherError("ERR_CONSENSUS_VOTE_REFUSED", `vote refused: ${detail}`, { details: { reason: "forged", detail }, ...(cause === undefined ? {} : { cause }) });

export const consensusPort = (node: Node, options: ConsensusPortOptions = {}): ConsensusPort => ({
  clock: options.clock ?? node.clock,
  eligible: async (capability) => [...new Set((await node.listActors()).filter((r) => r.capabilities.includes(capability)).map((r) => r.actorId))].sort(),
  trustOf: async (agents) => {
    const trust = options.trust;
    const scores = await Promise.all(agents.map(async (a) => [a, trust === undefined ? 1 : (await trust.score(a)).score] as const));
    return Object.fromEntries(scores);
  },
  verifyResolve: (input, target, replay) => verifySignedFor(node, input, target, replay, "tether.consensus.v1.resolve-body", "consensus actor"),
  openGate: async (consensusId, rec) => {
    if (options.approvals === undefined) return undefined;
    const p = rec.proposal;
    const policy = ApprovalPolicy.parse({ id: `consensus-${p.kind}`.slice(0, 128), action: "consensus.decide", summary: `consensus escalated: ${p.question}`.slice(0, 1024), gate: options.gate ?? DEFAULT_ESCALATION_GATE });
    const approval = await options.approvals.open({
      policy,
      actorId: consensusId,
      action: "consensus.decide",
      wid: undefined,
      explanation: {
        summary: `${p.question} (${rec.escalation ?? "escalated"}): choose one of ${p.options.join(", ")}`.slice(0, 1024),
        inputs: { proposal: p.id, kind: p.kind, options: p.options, params: p.params, tally: rec.tally, votes: rec.votes.map((v) => ({ voter: v.voter, choice: v.choice, weight: v.weight })).slice(0, 32) },
        rationale: rec.escalation,
        evidence: rec.ect === undefined ? [] : [rec.ect],
      },
      parentJti: rec.ect,
      choices: p.options,
    });
    return approval.id;
  },
  gateDecision: async (id) => {
    if (options.approvals === undefined) return undefined;
    const approval: ApprovalRecord = await options.approvals.get(id);
    if (approval.status === "pending") return undefined;
    const last = [...approval.decisions].reverse().find((d) => d.decision !== "escalate" && d.decision !== "revoke");
    if (last === undefined) return undefined;
    const approve = last.decision === "approve" || last.decision === "timeout-approve";
    // the approvals actor signed its decision ECT over exactly this input: the choice is what the human signed
    const ect = last.ect;
    if (ect !== undefined && node.options.assurance.profile !== "relaxed") {
      const v = await verifyEct(ect.token, { audience: networkAudience(node.network), clockSkewSeconds: node.options.assurance.clockSkewSeconds, now: () => node.clock.now(), keys: node.assurance.keys, allowMissingParents: true });
      const input = { approval: approval.id, decision: last.decision, reason: last.reason ?? null, ...(last.choice === undefined ? {} : { choice: last.choice }) };
      if (v.claims.iss !== agentUri(node.network, options.approvals.actorId) || v.claims.inp_hash !== hashValue(input)) {
        throw new TetherError("ERR_CONSENSUS_PROPOSAL", `approval ${id}: its decision ECT does not cover the decision`);
      }
    }
    return { decision: approve ? "approve" : "reject", choice: last.choice, by: last.by, role: last.role, ect: ect?.jti };
  },
  verifyVote: async (vote) => {
    const skew = node.options.assurance.clockSkewSeconds;
    let claims;
    let kid = "";
    try {
      const v = await verifyEct(vote.token, { audience: networkAudience(node.network), clockSkewSeconds: skew, now: () => node.clock.now(), keys: node.assurance.keys, allowMissingParents: true });
      claims = v.claims;
      kid = v.header?.kid ?? "";
    } catch (error) {
      throw forged(`its token does not verify (${isTetherError(error) ? error.code : "malformed"})`, error);
    }
    const prefix = `tether://${node.network}/agent/`;
    const voter = claims.iss.startsWith(prefix) ? claims.iss.slice(prefix.length) : undefined;
    if (voter === undefined) throw forged("the issuer is not an agent of this network");
    const key = await node.assurance.keys.lookup(kid);
    // a vote is signed by the voter itself: its own agent key, not the key of the node hosting it
    if (typeof key !== "object" || key.role !== "agent" || key.owner !== voter) throw forged(`not signed by ${voter}'s own agent key`);
    if (claims.exec_act !== "consensus.vote" || claims.inp_hash !== hashValue(vote.body)) throw forged("the token does not cover this vote");
    return { voter, jti: claims.jti };
  },
  mint: (p) => mintActorEct(node, p),
  tell: (actorId, msg) => {
    node.ref(actorId).tell(msg);
  },
  record: async (event, subject, details) => {
    await node.assurance.recordEvent(event, subject, details).catch(() => undefined);
  },
  reportTrust: async (consensusId, voter, agreed, evidence) => {
    await options.trust?.report(consensusId, { subject: voter, outcome: agreed ? "vote-agreed" : "vote-disagreed", evidence });
  },
  escalate: options.onEscalate ?? (async () => undefined),
});

/**
 * Signs a vote as `voter` with the voter's own `agent` key (registered in the key registry with role
 * `agent`, owner the voter). `stored` settles when the vote's ECT is in the DAG store (so the decision
 * can name it as parent); the vote can be cast meanwhile.
 */
export const prepareVote = async (node: Node, voter: string, key: SigningKey, body: Omit<VoteBody, "type">): Promise<{ vote: Vote; stored: Promise<void> }> => {
  const vote: VoteBody = { type: "tether.consensus.v1.vote-body", ...body };
  const now = () => node.clock.now();
  const jti = crypto.randomUUID();
  const claims = {
    iss: agentUri(node.network, voter),
    aud: [networkAudience(node.network)],
    jti,
    exec_act: "consensus.vote",
    par: [],
    inp_hash: hashValue(vote),
    ext: { [`${TETHER_EXT_PREFIX}node`]: node.id, [`${TETHER_EXT_PREFIX}outcome`]: "ok" },
  };
  const token = await mintEct(claims, { key: key.privateKey, kid: key.kid, alg: key.alg, now, ttlSeconds: node.options.assurance.tokenTtlSeconds });
  const stored = node.assurance.store.put({ jti, iat: Math.floor(now() / 1000), par: [], iss: claims.iss, exec_act: claims.exec_act, level: "L2", token, actor: voter, at: now(), outcome: "ok" }).then(() => undefined);
  return { vote: { type: "tether.consensus.v1.vote", body: vote, token }, stored };
};

/** Signs a vote (see `prepareVote`) and resolves once its ECT is stored. */
export const signVote = async (node: Node, voter: string, key: SigningKey, body: Omit<VoteBody, "type">): Promise<Vote> => {
  const { vote, stored } = await prepareVote(node, voter, key, body);
  await stored;
  return vote;
};
