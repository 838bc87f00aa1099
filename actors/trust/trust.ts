import { TrustExplanation, TrustIngestResult, TrustQuarantine, TrustReportBody, TrustScore, type TrustReportBodyInput } from "../../protocols/index.ts";
import type { Clock, Node } from "../../runtime/index.ts";
import { BuiltInActorClient } from "../built-in-client.ts";
import { mintActorEct } from "../ect-minter.ts";
import type { TrustParamsInput } from "./beta-reputation.ts";
import { TrustActor } from "./trust-actor.ts";
import type { TrustLimits } from "./trust-book.ts";
import { trustPort } from "./trust-port.ts";
import { ectFeed } from "./ect-feed.ts";
import { overrideQuarantine, type QuarantineOptions } from "./trust-quarantine.ts";

/** The trust actor's id unless told otherwise: one per network. */
export const TRUST_ACTOR_ID = "trust";

export interface TrustOptions {
  readonly actorId?: string;
  /** The clock scores decay on (default the node's); tests pass a `FakeClock`. */
  readonly clock?: Clock;
  readonly params?: TrustParamsInput;
  readonly limits?: Partial<TrustLimits>;
  /**
   * Outcomes from the ECT stream (docs/trust.md). Default on: the actor reads the stream when asked
   * (`ingest`) and, with `everyMs`, on its own timer (the `clock`'s). `false`: explicit reports only.
   */
  readonly ingest?:
    | false
    | {
        readonly everyMs?: number;
        /** Records per ingest at most (default 5,000). */
        readonly limit?: number;
        /** Agents whose drift evidence counts (default ["verifier"]). */
        readonly verifiers?: readonly string[];
        /** Agents never scored (default: the built-in actors). */
        readonly ignore?: readonly string[];
        /** A record must be stored within this many ms of its token's iat (default: clock skew + 1 s). */
        readonly storeWindowMs?: number;
      };
  /** Quarantine an agent whose score falls below a threshold (a pause through the override plane). */
  readonly quarantine?: QuarantineOptions;
}

/** Built-in actors the trust actor does not score. */
export const BUILT_IN_ACTORS: readonly string[] = ["trust", "verifier", "consensus", "approvals", "tether-override", "audit"];

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
    const i = o.ingest === false ? undefined : (o.ingest ?? {});
    const feed = i === undefined ? undefined : ectFeed(node, { verifiers: i.verifiers ?? ["verifier"], ignore: i.ignore ?? [...BUILT_IN_ACTORS, this.actorId], ...(i.storeWindowMs === undefined ? {} : { storeWindowMs: i.storeWindowMs }) });
    const port = trustPort(node, o.clock, {
      feed,
      ...(i?.storeWindowMs === undefined ? {} : { storeWindowMs: i.storeWindowMs }),
      quarantine: o.quarantine === undefined ? undefined : overrideQuarantine(node, o.quarantine),
    });
    return {
      port,
      ...(o.params === undefined ? {} : { params: o.params }),
      ...(o.limits === undefined ? {} : { limits: o.limits }),
      ...(i?.everyMs === undefined ? {} : { ingestEveryMs: i.everyMs }),
      ...(i?.limit === undefined ? {} : { ingestLimit: i.limit }),
    };
  }

  /** Reads the ECT stream on from the last position (at most `limit` records) and counts what it proves. */
  async ingest(limit = 5_000): Promise<TrustIngestResult> {
    return TrustIngestResult.parse(await this.bound().ref(this.actorId).ask({ type: "tether.trust.v1.ingest", limit }, { timeoutMs: 120_000 }));
  }

  /** Ingests until the stream is read to its end; merges the batches' results. */
  async ingestAll(limit = 5_000): Promise<TrustIngestResult> {
    const total: TrustIngestResult = { read: 0, counted: 0, rejected: 0, position: 0, more: false, quarantined: [] };
    for (;;) {
      const r = await this.ingest(limit);
      total.read += r.read;
      total.counted += r.counted;
      total.rejected += r.rejected;
      total.position = r.position;
      total.quarantined.push(...r.quarantined);
      if (!r.more) return total;
    }
  }

  /** The quarantines this actor issued (latest 100). */
  async quarantines(): Promise<TrustQuarantine[]> {
    return TrustQuarantine.array().parse(await this.bound().ref(this.actorId).ask({ type: "tether.trust.v1.quarantines" }));
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
