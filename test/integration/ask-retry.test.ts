import { connect, headers } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { Actor } from "../../actors/index.ts";
import { networkSubjects } from "../../protocols/index.ts";
import { startNode, startServer } from "../support/nats.ts";

const Slow = z.strictObject({ type: z.literal("work") });

/** Counts what it handles; answers after a while, so a forged notice can arrive before its reply. */
class SlowCounter extends Actor<z.infer<typeof Slow>> {
  static override readonly protocol = Slow;
  handled = 0;
  async handle(): Promise<number> {
    this.handled++;
    await new Promise((r) => setTimeout(r, 300));
    return this.handled;
  }
}

describe("asks sent again after 'no responders'", () => {
  it("a 'no responders' notice forged by a plain NATS client does not make the actor handle an ask twice", async () => {
    await using server = await startServer();
    await using host = await startNode(server.url);
    await using asker = await startNode(server.url);
    const counter = new SlowCounter();
    await host.spawnInstance("slow", counter);
    // the attacker sees each ask's reply subject on the actor's subject and answers it at once with a 503
    const mallory = await connect({ servers: server.url });
    let forged = 0;
    try {
      mallory.subscribe(networkSubjects("default").actor("slow"), {
        callback: (_e, m) => {
          if (!m.reply) return;
          forged++;
          mallory.publish(m.reply, new Uint8Array(0), { headers: headers(503, "No Responders") });
        },
      });
      await mallory.flush();
      const answers = await Promise.all([1, 2, 3].map(() => asker.ref("slow").ask({ type: "work" }, { timeoutMs: 10_000 })));
      expect(forged).toBeGreaterThanOrEqual(3);
      expect(counter.handled).toBe(3); // each ask handled once, however often it was sent
      expect([...(answers as number[])].sort()).toEqual([1, 2, 3]);
    } finally {
      await mallory.close();
    }
  });
});
