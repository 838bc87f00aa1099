/**
 * A node process of the consensus bench: hosts voter agents (each advertising the capability of its
 * round size) and a ballot actor that, asked for a proposal, signs each local voter's vote with that
 * voter's own key and casts it to the consensus actor. Config in TETHER_BENCH_CONSENSUS (JSON).
 * Prints "ready" when every agent runs; stops on SIGTERM.
 */
import { z } from "zod";
import { Actor, ConsensusClient, prepareVote } from "../actors/index.ts";
import { Node, loadSigningKey, silentLogger, type ActorClass } from "../runtime/index.ts";
import type { SigningKey } from "../protocols/index.ts";

const Config = z.strictObject({
  url: z.string(),
  nodeId: z.string(),
  keyDir: z.string(),
  voters: z.array(z.strictObject({ id: z.string(), capability: z.string(), keyFile: z.string() })),
});
const config = Config.parse(JSON.parse(process.env["TETHER_BENCH_CONSENSUS"] ?? "{}"));

const Ping = z.strictObject({ type: z.literal("ping") });
const voterClass = (capability: string): ActorClass =>
  class Voter extends Actor<{ type: "ping" }> {
    static override readonly protocol = Ping;
    static override readonly capabilities = [capability];
    handle(): string {
      return "pong";
    }
  };

const Ballot = z.strictObject({ type: z.literal("ballot"), proposal: z.string(), capability: z.string(), choices: z.record(z.string(), z.string()) });
type Ballot = z.infer<typeof Ballot>;

const node = await Node.create({ servers: [config.url], nodeId: config.nodeId, jetstreamReplicas: 3, assurance: { profile: "standard", keyDir: config.keyDir } }, { logger: silentLogger });
const consensus = new ConsensusClient().use(node);
const keys = new Map<string, { capability: string; key: SigningKey }>();
const classes = new Map<string, ActorClass>();
for (const v of config.voters) {
  keys.set(v.id, { capability: v.capability, key: await loadSigningKey(v.keyFile) });
  const cls = classes.get(v.capability) ?? voterClass(v.capability);
  classes.set(v.capability, cls);
  await node.spawn(v.id, cls);
}

/** Casts the votes of this node's voters of `capability`, each signed by the voter's own key, all at once. */
class BallotBox extends Actor<Ballot> {
  static override readonly protocol = Ballot;
  async handle(msg: Ballot): Promise<{ cast: number; refused: number; signedMs: number; lastMs: number }> {
    const mine = [...keys].filter(([, v]) => v.capability === msg.capability);
    const t0 = performance.now();
    let signed = 0;
    const results = await Promise.allSettled(
      mine.map(async ([id, v]) => {
        const { vote, stored } = await prepareVote(node, id, v.key, { proposal: msg.proposal, choice: msg.choices[id] ?? "up" });
        signed = performance.now() - t0;
        // the vote's ECT is stored while the vote travels; the round waits for both
        const [record] = await Promise.all([consensus.cast(vote), stored]);
        return record;
      }),
    );
    return { cast: results.filter((r) => r.status === "fulfilled").length, refused: results.filter((r) => r.status === "rejected").length, signedMs: signed, lastMs: performance.now() - t0 };
  }
}
await node.spawn(`ballot-${config.nodeId}`, BallotBox, { mailboxCapacity: 64 });
process.stdout.write("ready\n");
const stop = async () => {
  await node.close().catch(() => undefined);
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
