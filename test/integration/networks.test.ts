import { describe, expect, it } from "vitest";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { networkSubjects } from "../../protocols/index.ts";
import { NatsCluster, credentialsAuthenticator, type Node } from "../../runtime/index.ts";
import { Counter } from "../support/actors.ts";
import { startNode } from "../support/nats.ts";

describe("networks on the stock 3-node cluster", () => {
  it("holds ten networks, each a NATS account with its own storage budget, with replicas 3: every stream and bucket fits", async () => {
    await using cluster = await NatsCluster.start({ size: 3, accounts: true });
    const accounts = cluster.accounts;
    if (accounts === undefined) throw new Error("cluster without accounts");
    for (let i = 0; i < 10; i++) accounts.create(`tenant${i}`);
    await cluster.reload();
    const nodes: Node[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        // before explicit limits, the second network failed: its dead-letter stream alone reserved 1 GiB × 3
        const node = await startNode(cluster.urls, { network: `tenant${i}`, jetstreamReplicas: 3, credentials: accounts.credentials(`tenant${i}`, "node-1") });
        nodes.push(node);
        const ref = await node.spawn("worker", Counter);
        expect(await ref.ask({ type: "add", n: i + 1 })).toBe(i + 1);
      }
      // each network is its own account: the same actor id lives once per network
      for (const [i, node] of nodes.entries()) expect(await node.ref<typeof Counter>("worker").ask({ type: "get" })).toBe(i + 1);
      // each account sees only its own streams, and its JetStream limit is its budget × replicas
      const nc = await connect({ servers: cluster.urls, authenticator: credentialsAuthenticator(accounts.credentials("tenant3", "operator")) });
      try {
        const jsm = await jetstreamManager(nc);
        const info = await jsm.getAccountInfo();
        expect(info.limits.max_storage).toBe(192 * 3 * 1024 * 1024);
        const names: string[] = [];
        for await (const name of jsm.streams.names()) names.push(name);
        expect(names.length).toBeGreaterThan(0);
        expect(names.every((n) => n.includes("tenant3"))).toBe(true);
        expect(names).toContain(networkSubjects("tenant3").deadLetterStream());
      } finally {
        await nc.close();
      }
    } finally {
      for (const node of nodes.reverse()) await node.close();
    }
  }, 240_000);
});
