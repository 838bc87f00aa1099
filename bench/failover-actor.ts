import { z } from "zod";
import { Actor } from "../actors/index.ts";

const Msg = z.discriminatedUnion("type", [z.strictObject({ type: z.literal("ping") }), z.strictObject({ type: z.literal("work"), n: z.number().int() })]);
type Msg = z.infer<typeof Msg>;

/** A small durable service: counts work, answers pings. */
export class OrderBook extends Actor<Msg, { done: number }> {
  static override readonly protocol = Msg;
  override state = { done: 0 };
  handle(msg: Msg): number {
    if (msg.type === "work") this.state.done++;
    return this.state.done;
  }
}
