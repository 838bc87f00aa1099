import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import type { Node } from "../../runtime/index.ts";
import { Counter } from "../support/actors.ts";
import { startCluster, startNode, startServer } from "../support/nats.ts";

/** Starts three nodes of `network` at the same moment; returns how each start ended. */
const startThree = async (urls: readonly string[], network: string, replicas: number): Promise<PromiseSettledResult<Node>[]> => {
  const results = await Promise.allSettled(urls.map((url) => startNode(url, { network, jetstreamReplicas: replicas })));
  await Promise.all(results.map((r) => (r.status === "fulfilled" ? r.value.close() : undefined)));
  return results;
};

/** Deletes every stream of the cluster: each network reserves storage (1 GiB for dead letters) that 20 would exceed. */
const deleteAllStreams = async (url: string): Promise<void> => {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const info of jsm.streams.list()) await jsm.streams.delete(info.config.name);
  } finally {
    await nc.close();
  }
};

const failures = (round: number, results: PromiseSettledResult<Node>[]): string[] =>
  results.flatMap((r) => (r.status === "rejected" ? [`round ${round}: ${String(r.reason)}`] : []));

describe("Nodes starting together on a fresh network", () => {
  it("all start, 20 times out of 20, when three start at once on a fresh nats-server", async () => {
    const failed: string[] = [];
    for (let round = 0; round < 20; round++) {
      await using server = await startServer();
      failed.push(...failures(round, await startThree([server.url, server.url, server.url], "default", 1)));
    }
    expect(failed).toEqual([]);
  });

  // A fresh network per round (each its own streams and buckets) keeps this to one cluster start.
  // Before the fix most rounds failed here: the cluster answers one of several concurrent creates of the
  // same R3 stream (the others timed out after 10 s), a read right after "create" timed out while the
  // new stream had no leader yet (ERR_REGISTRY_FAILED: registry read node failed: timeout), and the
  // first rounds got "no suitable peers for placement" from the just-started cluster.
  it("all start, 20 times out of 20, when three start at once on a fresh network of a 3-server cluster", async () => {
    await using cluster = await startCluster();
    const failed: string[] = [];
    for (let round = 0; round < 20; round++) {
      failed.push(...failures(round, await startThree(cluster.urls, `fresh${round}`, 3)));
      if (round < 19) await deleteAllStreams(cluster.urls[0] as string);
    }
    expect(failed).toEqual([]);
    // the network the nodes started is usable from all three servers
    await using a = await startNode(cluster.urls[0] as string, { network: "fresh19", jetstreamReplicas: 3 });
    await using b = await startNode(cluster.urls[2] as string, { network: "fresh19", jetstreamReplicas: 3 });
    await a.spawn("after-start", Counter);
    expect(await b.ref<typeof Counter>("after-start").ask({ type: "add", n: 2 })).toBe(2);
  }, 240_000);
});
