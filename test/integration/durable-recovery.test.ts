import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { networkSubjects } from "../../protocols/index.ts";
import { silentLogger, type ActorRef, type Logger, type Node } from "../../runtime/index.ts";
import { OrderBook } from "../fixtures/durable-agents.ts";
import { eventually, startCluster, startNode, startServer } from "../support/nats.ts";

type Summary = { count: number; distinct: number; orders: number[] };

const ACTORS = 10;
const PER_ROUND = 5;
/** Every actor must consume again within this long after the killed server is back. */
const RECOVERY_BOUND_MS = 60_000;

/** `ref.send` until JetStream stores it: during an election a send may fail; the id makes a retry safe. */
const sendSurely = async (ref: ActorRef, n: number, deadline: number): Promise<void> => {
  for (;;) {
    try {
      await ref.send({ type: "order", n }, { id: `${ref.id}-order-${n}` });
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
};

const distinct = async (ref: ActorRef): Promise<number> =>
  ((await ref.ask({ type: "summary" }, { timeoutMs: 1_000 }).catch(() => ({ distinct: -1 }))) as Summary).distinct;

describe("the durable lane on a 3-node cluster", () => {
  it("resumes every durable actor within seconds after the stream-leader server is SIGKILLed and restarted, losing nothing", async () => {
    await using cluster = await startCluster();
    // a long lease: this test is about the durable lane, not about the node being declared dead
    const reattached: Record<string, unknown>[] = [];
    const warnings: string[] = [];
    const logger: Logger = {
      ...silentLogger,
      info: (msg, fields = {}) => msg === "durable consumer re-attached" && reattached.push(fields),
      warn: (msg, fields = {}) => warnings.push(`${new Date().toISOString().slice(11, 23)} ${msg} ${JSON.stringify(fields).slice(0, 300)}`),
      error: (msg, fields = {}) => warnings.push(`${new Date().toISOString().slice(11, 23)} ERROR ${msg} ${JSON.stringify(fields).slice(0, 300)}`),
    };
    // right after start the meta leader may not know every peer yet ("no suitable peers for placement")
    let started: Node | undefined;
    await eventually(
      async () => (started = await startNode(cluster.urls, { jetstreamReplicas: 3, leaseTtlMs: 30_000, durableAckWaitMs: 2_000 }, { logger }).catch(() => undefined)) !== undefined,
      15_000,
      "a node on the fresh cluster",
    );
    await using node = started as Node;
    const ids = Array.from({ length: ACTORS }, (_, i) => `book-${i}`);
    const refs = ids.map((id) => node.ref<typeof OrderBook>(id));
    for (const id of ids) await node.spawn(id, OrderBook, { durable: true });

    let sent = 0;
    const round = async (deadline: number) => {
      const base = sent;
      sent += PER_ROUND;
      await Promise.all(refs.map(async (ref) => { for (let n = base; n < base + PER_ROUND; n++) await sendSurely(ref, n, deadline); }));
    };
    await round(Date.now() + 10_000);
    const t0 = Date.now();
    await eventually(async () => (await Promise.all(refs.map(distinct))).every((d) => d === sent), 10_000, "first round").catch(async (error: unknown) => {
      throw new Error(`${String(error)}: ${JSON.stringify(await Promise.all(refs.map(distinct)))}`);
    });
    console.log(`first round took ${Date.now() - t0} ms`);

    // the server leading the durable stream, moved (by step-down) until it also leads some of the
    // actors' consumers: losing a consumer's leader is what stalled them
    const probe = await connect({ servers: cluster.urls });
    const stream = networkSubjects("default").durableStream();
    let leader: string | undefined;
    let consumersLed = 0;
    try {
      const jsm = await jetstreamManager(probe);
      for (let tries = 0; tries < 8; tries++) {
        leader = (await jsm.streams.info(stream)).cluster?.leader;
        const infos = await Promise.all(ids.map((id) => jsm.consumers.info(stream, `a_${id}`)));
        consumersLed = infos.filter((i) => i.cluster?.leader === leader).length;
        if (leader !== undefined && consumersLed > 0) break;
        await probe.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, undefined, { timeout: 5_000 }).catch(() => undefined);
        await eventually(async () => ((await jsm.streams.info(stream).catch(() => undefined))?.cluster?.leader ?? leader) !== leader, 10_000, "a new stream leader");
      }
    } finally {
      await probe.close();
    }
    expect(consumersLed).toBeGreaterThan(0);
    const victim = cluster.servers.findIndex((s) => s.name === leader);
    expect(victim).toBeGreaterThanOrEqual(0);

    cluster.servers[victim]?.kill();
    // messages keep arriving while the server is down (stored once the stream has a new leader)
    await round(Date.now() + 20_000);
    await cluster.restartServer(victim);
    await cluster.waitForJetStream(20_000);
    const backAt = Date.now();
    await round(backAt + 10_000);

    const caughtUpAfter = new Map<string, number>();
    await eventually(
      async () => {
        const counts = await Promise.all(refs.map(distinct));
        counts.forEach((d, i) => d === sent && !caughtUpAfter.has(ids[i] as string) && caughtUpAfter.set(ids[i] as string, Date.now() - backAt));
        return caughtUpAfter.size === ACTORS;
      },
      RECOVERY_BOUND_MS,
      `all ${ACTORS} actors caught up (${consumersLed} consumers were led by the killed server)`,
    ).catch(async (error: unknown) => {
      // where each stalled actor's messages are: JetStream's view of its consumer, and what the node logged
      const consumers = await (async () => {
        const nc = await connect({ servers: cluster.urls });
        try {
          const jsm = await jetstreamManager(nc);
          return await Promise.all(
            ids.map(async (id) => {
              const i = await jsm.consumers.info(stream, `a_${id}`).catch((e: unknown) => String(e));
              return typeof i === "string" ? `${id}: ${i}` : `${id}: pending ${i.num_pending} ack_pending ${i.num_ack_pending} waiting ${i.num_waiting} redelivered ${i.num_redelivered} delivered ${i.delivered.stream_seq} floor ${i.ack_floor.stream_seq} leader ${i.cluster?.leader}`;
            }),
          );
        } finally {
          await nc.close();
        }
      })().catch((e: unknown) => [String(e)]);
      throw new Error(
        `${String(error)}; caught up: ${JSON.stringify([...caughtUpAfter])}; applied now (of ${sent}): ${JSON.stringify(await Promise.all(refs.map(distinct)))}; node on ${node.url}; killed ${leader}` +
          `\nconsumers:\n${consumers.join("\n")}\nre-attached: ${JSON.stringify(reattached)}\nnode warnings:\n${warnings.slice(-60).join("\n")}`,
      );
    });
    console.log(`durable recovery: ${consumersLed}/${ACTORS} consumer leaders on the killed server; ms after cluster back:`, Object.fromEntries(caughtUpAfter), "re-attached:", reattached);
    for (const ref of refs) {
      const s = (await ref.ask({ type: "summary" })) as Summary;
      expect(s.distinct).toBe(sent); // nothing lost
      expect(s.count).toBe(sent); // nothing applied twice
    }
  }, 180_000); // above the recovery bound plus the rounds, so a stall reports its counts instead of a bare timeout

  it("re-creates an actor's durable consumer that was deleted under it, and delivers what was sent meanwhile", async () => {
    await using server = await startServer();
    const logged: string[] = [];
    const logger: Logger = { ...silentLogger, info: (msg, f) => logged.push(`${msg} ${JSON.stringify(f)}`), warn: (msg, f) => logged.push(`${msg} ${JSON.stringify(f)}`) };
    await using node = await startNode(server.url, {}, { logger });
    await node.spawn("orders", OrderBook, { durable: true });
    const ref = node.ref<typeof OrderBook>("orders");
    for (let n = 0; n < 5; n++) await ref.send({ type: "order", n });
    await eventually(async () => (await distinct(ref)) === 5, 5_000, "first orders");

    const nc = await connect({ servers: server.url });
    try {
      await (await jetstreamManager(nc)).consumers.delete(networkSubjects("default").durableStream(), "a_orders");
    } finally {
      await nc.close();
    }
    for (let n = 5; n < 10; n++) await ref.send({ type: "order", n });
    await eventually(async () => (await distinct(ref)) === 10, 10_000, "orders sent after the consumer was deleted");
    expect(((await ref.ask({ type: "summary" })) as Summary).count).toBe(10); // re-delivered old orders are skipped (checkpointed ids): nothing applied twice
    expect(logged.some((l) => l.startsWith("durable consumer re-attached") && l.includes('"recreated":true'))).toBe(true);
  });

  it("does not take a backlogged consumer (max_ack_pending reached) for a stalled one", async () => {
    await using server = await startServer();
    const stalls: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (msg, f) => msg.startsWith("durable consumer") && stalls.push(JSON.stringify(f)) };
    await using node = await startNode(server.url, {}, { logger });
    await node.spawn("slow", OrderBook, { durable: true, args: [250], mailboxCapacity: 2 });
    const ref = node.ref<typeof OrderBook>("slow");
    for (let n = 0; n < 32; n++) await ref.send({ type: "order", n }); // ~8 s of work, 2 in flight at a time
    await eventually(async () => (await distinct(ref)) === 32, 20_000, "the backlog");
    expect(stalls).toEqual([]);
  });
});
