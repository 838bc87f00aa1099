import { ProposalList, ProposalRecord, VoteReceipt, type ProposalInput, type ProposalStatus, type ProposalSummary, type SigningKey, type Vote } from "../../protocols/index.ts";
import type { ControlSigner, Node } from "../../runtime/index.ts";
import type { ConsensusConfigInput } from "./consensus-policy.ts";
import { BuiltInActorClient } from "../built-in-client.ts";
import { ConsensusActor } from "./consensus-actor.ts";
import { consensusPort, prepareVote, type ConsensusPortOptions } from "./consensus-port.ts";

export const CONSENSUS_ACTOR_ID = "consensus";

export interface ConsensusOptions extends ConsensusPortOptions {
  readonly actorId?: string;
  readonly tickMs?: number;
  readonly maxProposals?: number;
  readonly maxStoredVotes?: number;
  /** Policies per proposal kind, and who may resolve (see `ConsensusConfig`). */
  readonly config?: ConsensusConfigInput;
}

/**
 * Consensus over one node: `attach` registers the actor type (failover), `start` spawns it (resuming
 * its checkpoint), and the instance proposes, votes (signed with the voter's own key), reads and resolves.
 */
export class ConsensusClient extends BuiltInActorClient {
  readonly #options: ConsensusOptions;

  constructor(options: ConsensusOptions = {}) {
    super(options.actorId ?? CONSENSUS_ACTOR_ID, ConsensusActor, "consensus");
    this.#options = options;
  }

  protected deps(node: Node) {
    const o = this.#options;
    return {
      port: consensusPort(node, o),
      ...(o.tickMs === undefined ? {} : { tickMs: o.tickMs }),
      ...(o.maxProposals === undefined ? {} : { maxProposals: o.maxProposals }),
      ...(o.maxStoredVotes === undefined ? {} : { maxStoredVotes: o.maxStoredVotes }),
      ...(o.config === undefined ? {} : { config: o.config }),
    };
  }

  async propose(p: Omit<ProposalInput, "type">): Promise<ProposalRecord> {
    return ProposalRecord.parse(await this.bound().ref(this.actorId).ask({ type: "tether.consensus.v1.propose", ...p }));
  }

  /** Signs a vote with the voter's own agent key and casts it; resolves with its receipt once it is counted and saved. */
  async vote(voter: string, key: SigningKey, proposal: string, choice: string): Promise<VoteReceipt> {
    const node = this.bound();
    // the vote's ECT is stored while the vote travels: both must succeed
    const { vote, stored } = await prepareVote(node, voter, key, { proposal, choice });
    const [record] = await Promise.all([this.cast(vote), stored]);
    return record;
  }

  /** Casts a vote signed before (`prepareVote`, `signVote`); resolves with its receipt (the proposal's status, the decision once tallied). */
  async cast(vote: Vote): Promise<VoteReceipt> {
    return VoteReceipt.parse(await this.bound().ref(this.actorId).ask(vote));
  }

  async get(proposal: string): Promise<ProposalRecord> {
    return ProposalRecord.parse(await this.bound().ref(this.actorId).ask({ type: "tether.consensus.v1.get", proposal }));
  }

  /** The proposals the actor holds (without their votes), by deadline; only those with `status` when given. */
  async list(status?: ProposalStatus): Promise<ProposalSummary[]> {
    const query = { type: "tether.consensus.v1.list", ...(status === undefined ? {} : { status }) };
    return ProposalList.parse(await this.bound().ref(this.actorId).ask(query)).proposals;
  }

  /**
   * The truth became known: voters who chose it gain trust, the others lose it. Signed with `signer`
   * (a key whose role the actor's `resolvers` name: by default owner, admin or approver).
   */
  async resolve(signer: ControlSigner, proposal: string, truth: string): Promise<ProposalRecord> {
    const envelope = await signer.sign({ type: "tether.consensus.v1.resolve-body", proposal, truth }, this.actorId);
    return ProposalRecord.parse(await this.bound().ref(this.actorId).ask({ type: "tether.consensus.v1.resolve", envelope }));
  }

  /** Makes the actor look at an escalated proposal's approval gate now (it also does on every tick). */
  async settle(proposal: string): Promise<ProposalRecord> {
    return ProposalRecord.parse(await this.bound().ref(this.actorId).ask({ type: "tether.consensus.v1.settle", proposal }));
  }
}
