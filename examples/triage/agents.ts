import { z } from "zod";
import { Actor, defineAgents } from "../../actors/index.ts";
import type { ActorContext } from "../../runtime/index.ts";

/**
 * A small incident-response pipeline: triage → specialist → reviewer.
 * Each agent is an actor class with a zod protocol; they find each other by id alone.
 */

export const Incident = z.strictObject({
  type: z.literal("incident.report"),
  id: z.string().max(64),
  summary: z.string().max(500),
  severity: z.enum(["low", "high", "critical"]),
});

const TriageMsg = z.discriminatedUnion("type", [Incident]);
type TriageMsg = z.infer<typeof TriageMsg>;

export interface Resolution {
  readonly incident: string;
  readonly specialist: string;
  readonly proposal: string;
  readonly approved: boolean;
  readonly reviewer: string;
  readonly note: string;
}

/** Routes each incident to the specialist whose area matches, and returns the reviewed resolution. */
export class Triage extends Actor<TriageMsg, { routed: number }> {
  static override readonly protocol = TriageMsg;
  static override readonly capabilities = ["triage"];
  override state = { routed: 0 };

  async handle(msg: TriageMsg, ctx: ActorContext): Promise<Resolution> {
    // a significant action: recorded as an ECT (signed and audited in the regulated profile)
    const area = await ctx.act("route_incident", { incident: msg.id, severity: msg.severity }, () =>
      /db|database|query|replica/i.test(msg.summary) ? "database" : "network",
    );
    this.state.routed++;
    return ctx.ref<typeof Specialist>(`${area}-specialist`).ask({ type: "diagnose", incident: msg }, { timeoutMs: 5_000 });
  }
}

const SpecialistMsg = z.discriminatedUnion("type", [z.strictObject({ type: z.literal("diagnose"), incident: Incident })]);
type SpecialistMsg = z.infer<typeof SpecialistMsg>;

/** Proposes a fix for incidents in its area and sends it to review. */
export class Specialist extends Actor<SpecialistMsg> {
  static override readonly protocol = SpecialistMsg;
  static override readonly capabilities = ["diagnose"];

  constructor(readonly area: "network" | "database") {
    super();
  }

  async handle(msg: SpecialistMsg, ctx: ActorContext): Promise<Resolution> {
    const { incident } = msg;
    const proposal = await ctx.act("propose_fix", { incident: incident.id, area: this.area }, () => this.#propose(incident));
    const review = await ctx.ref<typeof Reviewer>("reviewer").ask({ type: "review", incident, proposal, specialist: ctx.self });
    return { incident: incident.id, specialist: ctx.self, proposal, ...review };
  }

  #propose(incident: z.infer<typeof Incident>): string {
    return this.area === "database"
        ? incident.severity === "critical"
          ? "fail over the primary database to its replica"
          : "kill the long-running query and add an index"
        : incident.severity === "critical"
          ? "reroute all traffic away from the core router"
          : "restart the flapping edge link";
  }
}

const ReviewerMsg = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("review"), incident: Incident, proposal: z.string().max(500), specialist: z.string().max(128) }),
]);
type ReviewerMsg = z.infer<typeof ReviewerMsg>;

/** Approves low-risk proposals; holds critical, traffic-wide changes for a human. */
export class Reviewer extends Actor<ReviewerMsg, { reviewed: number }> {
  static override readonly protocol = ReviewerMsg;
  static override readonly capabilities = ["review"];
  override state = { reviewed: 0 };

  async handle(msg: ReviewerMsg, ctx: ActorContext): Promise<{ approved: boolean; reviewer: string; note: string }> {
    this.state.reviewed++;
    const risky = msg.incident.severity === "critical" && /all traffic|fail over/.test(msg.proposal);
    await ctx.act(risky ? "hold_for_human" : "approve_fix", { incident: msg.incident.id, proposal: msg.proposal }, () => undefined);
    return {
      approved: !risky,
      reviewer: ctx.self,
      note: risky ? "blast radius too large: held for a human operator" : "low blast radius: approved",
    };
  }
}

/** For `tether node start --agents examples/triage/agents.ts`: every agent on one node. */
export default defineAgents([
  { id: "triage", actor: Triage },
  { id: "network-specialist", actor: Specialist, args: ["network"] },
  { id: "database-specialist", actor: Specialist, args: ["database"] },
  { id: "reviewer", actor: Reviewer },
]);
