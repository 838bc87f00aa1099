import { z } from "zod";
import { Actor, defineAgents } from "../actors/index.ts";

const Msg = z.discriminatedUnion("type", [z.strictObject({ type: z.literal("ping") })]);
type Msg = z.infer<typeof Msg>;

/** An idle agent: the override bench stops a thousand of them. */
export class Idle extends Actor<Msg, undefined> {
  static override readonly protocol = Msg;
  handle(): string {
    return "pong";
  }
}

const perNode = Number(process.env["TETHER_BENCH_OVERRIDE_PER_NODE"] ?? "334");

/** `perNode` idle agents per node process, named after the node. */
export default defineAgents((node) => Array.from({ length: perNode }, (_, k) => ({ id: `ov-${node.nodeId}-${k}`, actor: Idle })));
