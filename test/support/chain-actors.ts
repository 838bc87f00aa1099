import { z } from "zod";
import { Actor } from "../../actors/index.ts";
import type { ActorContext } from "../../runtime/index.ts";

const Hop = z.strictObject({ actor: z.string().max(128), action: z.string().max(128) });

export const StepMsg = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("step"), hops: z.array(Hop).min(1).max(10), units: z.number().int().nonnegative().optional() }),
  z.strictObject({ type: z.literal("seq"), n: z.number().int() }),
  z.strictObject({ type: z.literal("burst"), to: z.string().max(128), n: z.number().int().positive().max(10_000) }),
]);
export type StepMsg = z.infer<typeof StepMsg>;

/**
 * Performs the first hop's action with ctx.act, then forwards the remaining hops to the next actor
 * (ask, so the caller learns the workflow id and the order of actions). `seq` messages record arrival order.
 */
export class Stepper extends Actor<StepMsg> {
  static override readonly protocol = StepMsg;

  constructor(readonly log: string[] = []) {
    super();
  }

  async handle(msg: StepMsg, ctx: ActorContext): Promise<{ wid: string | undefined; actions: string[] }> {
    if (msg.type === "seq") {
      this.log.push(String(msg.n));
      return { wid: ctx.workflowId, actions: [] };
    }
    if (msg.type === "burst") {
      await ctx.act("burst", { n: msg.n }, () => undefined); // every tell below carries this action's ECT
      for (let i = 0; i < msg.n; i++) ctx.ref<typeof Stepper>(msg.to).tell({ type: "seq", n: i });
      return { wid: ctx.workflowId, actions: ["burst"] };
    }
    const [hop, ...rest] = msg.hops;
    if (hop === undefined) return { wid: ctx.workflowId, actions: [] };
    await ctx.act(hop.action, { by: ctx.self }, () => {
      if (msg.units !== undefined) ctx.meter("tokens", msg.units);
      this.log.push(hop.action);
    });
    if (rest.length === 0) return { wid: ctx.workflowId, actions: [hop.action] };
    const next = rest[0] as { actor: string };
    const downstream = (await ctx.ref<typeof Stepper>(next.actor).ask({ type: "step", hops: rest })) as { wid: string | undefined; actions: string[] };
    return { wid: ctx.workflowId, actions: [hop.action, ...downstream.actions] };
  }
}
