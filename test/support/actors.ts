import { z } from "zod";
import { Actor } from "../../actors/index.ts";
import type { ActorContext } from "../../runtime/index.ts";

export const CounterMsg = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("add"), n: z.number().int() }),
  z.strictObject({ type: z.literal("get") }),
  z.strictObject({ type: z.literal("fail"), reason: z.string() }),
  z.strictObject({ type: z.literal("slow"), ms: z.number().int().nonnegative() }),
  z.strictObject({ type: z.literal("forward"), to: z.string(), n: z.number().int() }),
]);
export type CounterMsg = z.infer<typeof CounterMsg>;

/** A small actor for tests: adds, fails on demand, sleeps (honouring ctx.signal), forwards. */
export class Counter extends Actor<CounterMsg, number> {
  static override readonly protocol = CounterMsg;
  static override readonly capabilities = ["count"];
  override state = 0;

  /** `seen` records each message type handled, in order (pass an array to observe it). */
  constructor(readonly seen: string[] = []) {
    super();
  }

  async handle(msg: CounterMsg, ctx: ActorContext): Promise<number> {
    this.seen.push(msg.type);
    switch (msg.type) {
      case "add":
        this.state += msg.n;
        return this.state;
      case "get":
        return this.state;
      case "fail":
        throw new Error(msg.reason);
      case "slow":
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, msg.ms);
          ctx.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            reject(ctx.signal.reason as Error);
          });
        });
        return this.state;
      case "forward":
        return (await ctx.ref<typeof Counter>(msg.to).ask({ type: "add", n: msg.n })) + 0;
    }
  }
}
