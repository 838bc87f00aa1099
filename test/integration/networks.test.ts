import { describe, expect, it } from "vitest";
import type { Node } from "../../runtime/index.ts";
import { Counter } from "../support/actors.ts";
import { startCluster, startNode } from "../support/nats.ts";

describe("networks on the stock 3-node cluster", () => {
  it("holds ten networks with replicas 3: every stream and bucket has an explicit limit that fits the file store", async () => {
    await using cluster = await startCluster();
    const nodes: Node[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        // before explicit limits, the second network failed: its dead-letter stream alone reserved 1 GiB × 3
        const node = await startNode(cluster.urls, { network: `tenant${i}`, jetstreamReplicas: 3 });
        nodes.push(node);
        const ref = await node.spawn("worker", Counter);
        expect(await ref.ask({ type: "add", n: i + 1 })).toBe(i + 1);
      }
      // each network is its own namespace: the same actor id lives once per network
      for (const [i, node] of nodes.entries()) expect(await node.ref<typeof Counter>("worker").ask({ type: "get" })).toBe(i + 1);
    } finally {
      for (const node of nodes.reverse()) await node.close();
    }
  }, 180_000);
});
