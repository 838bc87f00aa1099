import type { Clock, Node } from "../../runtime/index.ts";
import { BuiltInActorClient } from "../built-in-client.ts";
import type { VerifierParamsInput } from "./drift-book.ts";
import { VerifierActor } from "./verifier-actor.ts";
import { AppraisalResult, VerifierFinding } from "./verifier-messages.ts";
import { verifierPort } from "./verifier-port.ts";

/** The drift verifier's id unless told otherwise: one per network. */
export const VERIFIER_ACTOR_ID = "verifier";

export interface VerifierOptions {
  readonly actorId?: string;
  readonly params?: VerifierParamsInput;
  /** Appraise on a timer every this many ms (default: only when asked). */
  readonly appraiseEveryMs?: number;
  /** Records per timed appraisal (default 1,000). */
  readonly appraiseLimit?: number;
  /** The clock of the timer (default the node's; tests pass a `FakeClock`). */
  readonly clock?: Clock;
}

/**
 * The drift verifier over one node:
 *
 *   const verifier = await new VerifierClient().attach(node).start();
 *   const { findings } = await verifier.appraiseAll();
 *
 * `appraise` is what a schedule (or an operator) calls; each call reads on from the last position.
 */
export class VerifierClient extends BuiltInActorClient {
  readonly #options: VerifierOptions;

  constructor(options: VerifierOptions = {}) {
    super(options.actorId ?? VERIFIER_ACTOR_ID, VerifierActor, "verifier");
    this.#options = options;
  }

  async appraise(limit = 1000): Promise<AppraisalResult> {
    return AppraisalResult.parse(await this.bound().ref(this.actorId).ask({ type: "tether.verifier.v1.appraise", limit }));
  }

  /** Appraises until the stream is read to its end; merges the batches' results. */
  async appraiseAll(batch = 1000): Promise<AppraisalResult> {
    const total: AppraisalResult = { appraised: 0, rejected: 0, position: 0, more: false, findings: [] };
    for (;;) {
      const r = await this.appraise(batch);
      total.appraised += r.appraised;
      total.rejected += r.rejected;
      total.position = r.position;
      total.findings.push(...r.findings);
      if (!r.more) return total;
    }
  }

  async findings(agent?: string): Promise<VerifierFinding[]> {
    return VerifierFinding.array().parse(await this.bound().ref(this.actorId).ask({ type: "tether.verifier.v1.findings", ...(agent === undefined ? {} : { agent }) }));
  }

  protected deps(node: Node) {
    const o = this.#options;
    return {
      port: verifierPort(node, o.clock),
      ...(o.params === undefined ? {} : { params: o.params }),
      ...(o.appraiseEveryMs === undefined ? {} : { appraiseEveryMs: o.appraiseEveryMs }),
      ...(o.appraiseLimit === undefined ? {} : { appraiseLimit: o.appraiseLimit }),
    };
  }
}
