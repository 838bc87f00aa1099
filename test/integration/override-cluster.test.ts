import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OverrideClient } from "../../actors/index.ts";
import { OverrideAck, decodeBody, hasCode, overrideSubjects } from "../../protocols/index.ts";
import { NatsCluster } from "../../runtime/index.ts";
import { eventually, startCluster, startNode } from "../support/nats.ts";
import { TetherProcess } from "../support/processes.ts";
import { Worker, journal, keyDir, operatorKeys, startOversight } from "../support/override.ts";

const confDir = mkdtempSync(join(tmpdir(), "tether-override-conf-"));
afterAll(() => {
  rmSync(keyDir, { recursive: true, force: true });
  rmSync(confDir, { recursive: true, force: true });
});

/** A TCP proxy to one server that can cut every client off (connections refused) and let them back. */
class CuttableProxy implements AsyncDisposable {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  cut = false;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(targetPort: number): Promise<CuttableProxy> {
    const server = createServer();
    const proxy = new CuttableProxy(server);
    server.on("connection", (client) => {
      if (proxy.cut) {
        client.destroy();
        return;
      }
      const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
      for (const s of [client, upstream]) {
        proxy.#sockets.add(s);
        s.on("close", () => proxy.#sockets.delete(s));
        s.on("error", () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get url(): string {
    const address = this.#server.address();
    return `nats://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
  }

  sever(): void {
    this.cut = true;
    for (const s of this.#sockets) s.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.sever();
    await new Promise((r) => this.#server.close(r));
  }
}

/** The cluster template with `no_advertise`, so a client reaches only the server it was given. */
const noAdvertiseConfig = (): string => {
  const conf = readFileSync("nats.conf", "utf8").replace("cluster {", "cluster {\n  no_advertise: true");
  writeFileSync(join(confDir, "nats.conf"), conf);
  copyFileSync("cluster-routes.conf", join(confDir, "cluster-routes.conf"));
  return join(confDir, "nats.conf");
};

describe("the override plane on a 3-node cluster", () => {
  it("a node cut from NATS while a stop is issued applies it on reconnect before any queued message", async () => {
    await using cluster = await NatsCluster.start({ size: 3, configFile: noAdvertiseConfig() });
    const [u1, u2, u3] = cluster.urls as [string, string, string];
    await using proxy = await CuttableProxy.start(Number(new URL(u3).port));
    await using a = await startNode(u1, { jetstreamReplicas: 3 });
    await using b = await startNode(u2, { jetstreamReplicas: 3 });
    await using c = await startNode(proxy.url, { jetstreamReplicas: 3, leaseTtlMs: 120_000, reconnectTimeWaitMs: 100 });
    await startOversight(a);
    const { operator } = await operatorKeys(a);
    const worker = await c.spawn("w-cut", Worker);
    expect(await worker.ask({ type: "work", seq: 0, ms: 0 })).toBe(0);
    const events: string[] = [];
    c.onEvent((e) => e.type === "transport" && events.push(e.status));

    proxy.sever();
    await eventually(() => events.includes("disconnect"), 10_000, "c disconnected");
    const local = c.ref<typeof Worker>("w-cut");
    for (const seq of [1, 2, 3]) await local.tell({ type: "work", seq, ms: 0 }); // queued on c during the cut
    const client = new OverrideClient({ nc: b.nats, signer: operator });
    const stop = await client.issue({ action: "stop", scope: { kind: "agent", id: "w-cut" }, reason: "partition drill", ackDeadlineMs: 1_500 });
    expect(stop.escalated).toBe(true); // c cannot hear it: the missing ack escalates
    expect(stop.coverage.missing).toEqual(["w-cut"]);

    const acks: OverrideAck[] = [];
    b.nats.subscribe(overrideSubjects(b.network).acks(stop.id), { callback: (_e, m) => void acks.push(OverrideAck.parse(decodeBody(m.data))) });
    await b.nats.flush();
    proxy.cut = false; // c reconnects
    await eventually(() => acks.length === 1, 30_000, "fenced acknowledgement after the reconnect");
    expect(acks[0]).toMatchObject({ actorId: "w-cut", nodeId: c.id, outcome: "applied", fenced: true, queued: 3 });
    await new Promise((r) => setTimeout(r, 300));
    expect(journal.get("w-cut")?.handled).toEqual([0]); // nothing queued ran
    await expect(worker.ask({ type: "work", seq: 9, ms: 0 })).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ACTOR_STOPPED_BY_OVERRIDE"));

    const lifted = await client.lift(stop.id);
    expect(lifted.coverage.complete).toBe(true);
    await eventually(() => journal.get("w-cut")?.handled.length === 4, 10_000, "released");
    expect(journal.get("w-cut")?.handled).toEqual([0, 1, 2, 3]);
  });

  it("a stopped agent whose node is SIGKILLed fails over stopped, and acknowledges again from its new node", async () => {
    await using cluster = await startCluster();
    const [u1, u2, u3] = cluster.urls as [string, string, string];
    const fast = { jetstreamReplicas: 3, heartbeatMs: 500, leaseTtlMs: 3_000 };
    await using child = new TetherProcess(["node", "start", "--nats", u1, "--replicas", "3", "--lease-ms", "3000", "--node-id", "override-victim", "--agents", "test/fixtures/override-agents.ts"]);
    await child.waitFor(/node override-victim up .*hosting w-fo/, 45_000);
    await using b = await startNode(u2, fast);
    await using c = await startNode(u3, fast);
    await startOversight(b);
    for (const n of [b, c]) n.registerType(Worker);
    const { operator } = await operatorKeys(b);
    const client = new OverrideClient({ nc: b.nats, signer: operator });
    const stop = await client.issue({ action: "stop", scope: { kind: "agent", id: "w-fo" }, reason: "runaway agent" });
    expect(stop.coverage.acked.get("w-fo")).toMatchObject({ nodeId: "override-victim", outcome: "applied" });

    const acks: OverrideAck[] = [];
    b.nats.subscribe(overrideSubjects(b.network).acks(stop.id), { callback: (_e, m) => void acks.push(OverrideAck.parse(decodeBody(m.data))) });
    await b.nats.flush();
    child.child.kill("SIGKILL");
    await child.exited;
    await eventually(() => b.localActors().includes("w-fo") || c.localActors().includes("w-fo"), 40_000, "failover");
    await eventually(() => acks.length === 1, 10_000, "acknowledged from the new node");
    expect(acks[0]).toMatchObject({ actorId: "w-fo", outcome: "applied", fenced: true });
    expect([b.id, c.id]).toContain(acks[0]?.nodeId);
    const ref = b.ref<typeof Worker>("w-fo");
    await expect(ref.ask({ type: "work", seq: 1, ms: 0 })).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ACTOR_STOPPED_BY_OVERRIDE"));

    await client.lift(stop.id);
    expect(await ref.ask({ type: "work", seq: 2, ms: 0 })).toBe(2);
  });
});
