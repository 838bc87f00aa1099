import { TETHER_EXT_PREFIX, TetherError, isTetherError, mintEct, verifyEct, type SigningKey, type Vote, type VoteBody } from "../../protocols/index.ts";
import { agentUri, hashValue, networkAudience, type Clock, type Node } from "../../runtime/index.ts";
import { mintActorEct, type ActorEct, type MintedEct } from "../ect-minter.ts";
import type { TrustClient } from "../trust/trust.ts";

/** What the consensus actor needs from its node (`consensusPort(node, options)` builds it). */
export interface ConsensusPort {
  readonly clock: Clock;
  /** The agents advertising `capability` in the registry (the eligible voters). */
  eligible(capability: string): Promise<string[]>;
  /** The voter's trust score (1 when the port has no trust client). */
  trustOf(agent: string): Promise<number>;
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

export interface ConsensusPortOptions {
  readonly clock?: Clock;
  /** Weights become declared × trust score when given; otherwise declared alone. */
  readonly trust?: TrustClient;
  readonly onEscalate?: ConsensusPort["escalate"];
}

const forged = (detail: string, cause?: unknown): TetherError =>
  new TetherError("ERR_CONSENSUS_VOTE_REFUSED", `vote refused: ${detail}`, { details: { reason: "forged", detail }, ...(cause === undefined ? {} : { cause }) });

export const consensusPort = (node: Node, options: ConsensusPortOptions = {}): ConsensusPort => ({
  clock: options.clock ?? node.clock,
  eligible: async (capability) => [...new Set((await node.listActors()).filter((r) => r.capabilities.includes(capability)).map((r) => r.actorId))].sort(),
  trustOf: async (agent) => (options.trust === undefined ? 1 : (await options.trust.score(agent)).score),
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
 * Casts a vote as `voter`, signed with the voter's own `agent` key (registered in the key registry with
 * role `agent`, owner the voter): the vote ECT is stored in the DAG so the decision can name it as parent.
 */
export const signVote = async (node: Node, voter: string, key: SigningKey, body: Omit<VoteBody, "type">): Promise<Vote> => {
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
  await node.assurance.store.put({ jti, iat: Math.floor(now() / 1000), par: [], iss: claims.iss, exec_act: claims.exec_act, level: "L2", token, actor: voter, at: now(), outcome: "ok" });
  return { type: "tether.consensus.v1.vote", body: vote, token };
};
