import { TrustExplanation, TrustReportBody, TrustScore, type TrustReportBodyInput } from "../../protocols/index.ts";
import type { Clock, Node } from "../../runtime/index.ts";
import { BuiltInActorClient } from "../built-in-client.ts";
import { mintActorEct } from "../ect-minter.ts";
import type { TrustParamsInput } from "./beta-reputation.ts";
import { TrustActor } from "./trust-actor.ts";
import type { TrustLimits } from "./trust-book.ts";
import { trustPort } from "./trust-port.ts";

/** The trust actor's id unless told otherwise: one per network. */
export const TRUST_ACTOR_ID = "trust";

export interface TrustOptions {
  readonly actorId?: string;
  /** The clock scores decay on (default the node's); tests pass a `FakeClock`. */
  readonly clock?: Clock;
  readonly params?: TrustParamsInput;
  readonly limits?: Partial<TrustLimits>;
}

/**
 * Trust over one node: `attach` lets the node host the trust actor (and take it over on failover),
 * `start` starts it unless it runs somewhere already, `report` sends an observer's signed report, and
 * `score` / `list` / `show` read scores (what consensus and routing call).
 *
 *   const trust = await new TrustClient().attach(node).start();
 *   await trust.report("monitor", { subject: "diagnosis", outcome: "failure" });
 *   const { score } = await trust.score("diagnosis");
 */
export class TrustClient extends BuiltInActorClient {
  readonly #options: TrustOptions;

  constructor(options: TrustOptions = {}) {
    super(options.actorId ?? TRUST_ACTOR_ID, TrustActor, "trust");
    this.#options = options;
  }

  protected deps(node: Node) {
    const o = this.#options;
    return { port: trustPort(node, o.clock), ...(o.params === undefined ? {} : { params: o.params }), ...(o.limits === undefined ? {} : { limits: o.limits }) };
  }

  /**
   * Reports, as agent `observer` (hosted on this node, or holding the node's trust), what `subject`
   * did. The report is an ECT minted with this node's key (`exec_act` `trust.report`, `inp_hash` over
   * the body) and stored in the ECT DAG; resolves with the subject's new score.
   */
  async report(observer: string, body: Omit<TrustReportBodyInput, "type">): Promise<TrustScore> {
    const parsed = TrustReportBody.parse({ type: "tether.trust.v1.report-body", ...body });
    const node = this.bound();
    const minted = await mintActorEct(node, { actorId: observer, act: "trust.report", par: parsed.evidence === undefined ? [] : [parsed.evidence], wid: undefined, input: parsed, ext: {} });
    return TrustScore.parse(await node.ref(this.actorId).ask({ type: "tether.trust.v1.report", body: parsed, token: minted.token }));
  }

  async score(agent: string): Promise<TrustScore> {
    return TrustScore.parse(await this.bound().ref(this.actorId).ask({ type: "tether.trust.v1.score", agent }));
  }

  async list(): Promise<TrustScore[]> {
    return TrustScore.array().parse(await this.bound().ref(this.actorId).ask({ type: "tether.trust.v1.list" }));
  }

  async show(agent: string): Promise<TrustExplanation> {
    return TrustExplanation.parse(await this.bound().ref(this.actorId).ask({ type: "tether.trust.v1.show", agent }));
  }
}
