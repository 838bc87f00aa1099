import { mkdtempSync, rmSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hasCode } from "../../protocols/index.ts";
import { Counter } from "../support/actors.ts";
import { eventually, startCluster, startNode } from "../support/nats.ts";
import { TetherProcess, runTether } from "../support/processes.ts";

describe("a 3-node NATS cluster from nats.conf", () => {
  it("hosts nodes on different servers that reach each other by id, with single activation across servers", async () => {
    await using cluster = await startCluster();
    const [u1, u2, u3] = cluster.urls as [string, string, string];
    await using a = await startNode(u1, { jetstreamReplicas: 3 });
    await using b = await startNode(u2, { jetstreamReplicas: 3 });
    await using c = await startNode(u3, { jetstreamReplicas: 3 });
    await a.spawn("alpha", Counter);
    await b.spawn("beta", Counter);
    // interest propagates between servers asynchronously: allow a moment before the first cross-server call
    await eventually(async () => (await c.ref<typeof Counter>("alpha").ask({ type: "get" }).catch(() => -1)) === 0);
    expect(await c.ref<typeof Counter>("beta").ask({ type: "add", n: 4 })).toBe(4);
    expect(await a.ref<typeof Counter>("alpha").ask({ type: "forward", to: "beta", n: 1 })).toBe(5);

    const results = await Promise.allSettled([a.spawn("gamma", Counter), c.spawn("gamma", Counter)]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const loser = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(hasCode(loser.reason, "ERR_ACTOR_ALREADY_ACTIVE")).toBe(true);
  });

  it("deploys agents with `tether node start` and lists them with `tether agents ls`", async () => {
    await using cluster = await startCluster();
    const nats = cluster.urls.join(",");
    await using node = new TetherProcess(["node", "start", "--nats", nats, "--replicas", "3", "--node-id", "cli-node", "--agents", "test/fixtures/agents.ts"]);
    await node.waitFor(/node cli-node up on .* hosting relay, cli-counter/);

    const ls = await runTether(["agents", "ls", "--nats", nats, "--json"]);
    expect(ls.code).toBe(0);
    const rows = ls.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toEqual([
      { id: "cli-counter", class: "Counter", capabilities: ["count", "cli"], node: "cli-node", status: "live" },
      { id: "relay", class: "Counter", capabilities: ["count"], node: "cli-node", status: "live" },
    ]);
    const table = await runTether(["agents", "ls", "--nats", nats]);
    expect(table.stdout).toMatch(/ID\s+CLASS\s+CAPABILITIES\s+NODE\s+STATUS/);

    await using client = await startNode(cluster.urls[2] as string, { jetstreamReplicas: 3 });
    expect(await client.ref<typeof Counter>("cli-counter").ask({ type: "add", n: 3 })).toBe(3);

    node.child.kill("SIGTERM");
    expect(await node.exited).toBe(0);
    expect(node.stdout).toMatch(/node cli-node stopped/);
    const after = await runTether(["agents", "ls", "--nats", nats, "--json"]);
    expect(after.stdout.trim()).toBe("");
  });

  it("runs `tether cluster up` in the foreground and stops every server on Ctrl-C", async () => {
    const store = mkdtempSync(join(tmpdir(), "tether-up-"));
    try {
      await using up = new TetherProcess(["cluster", "up", "--ports", "auto", "--route-ports", "auto", "--store", store]);
      const [, urls = ""] = (await up.waitFor(/cluster ready: (\S+)/, 45_000)) as [string, string];
      expect(urls.split(",")).toHaveLength(3);
      // a new cluster runs with networks as accounts and has the network `default`
      await using node = await startNode(urls.split(","), { jetstreamReplicas: 3, credentials: join(store, "networks", "default", "node-1.creds") });
      await node.spawn("up-check", Counter);
      expect(await node.ref<typeof Counter>("up-check").ask({ type: "add", n: 1 })).toBe(1);
      await node.close();
      up.child.kill("SIGINT");
      expect(await up.exited).toBe(0);
      expect(up.stdout).toMatch(/cluster stopped/);
      const ports = urls.split(",").map((u) => Number(new URL(u).port));
      for (const port of ports) expect(await canConnect(port)).toBe(false);
    } finally {
      rmSync(store, { recursive: true, force: true });
    }
  });

  it("exits non-zero with a coded error for a bad agents module or bad flags", async () => {
    const bad = await runTether(["node", "start", "--nats", "nats://127.0.0.1:1", "--agents", "nope.ts"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/ERR_TRANSPORT_FAILED|ERR_AGENTS_MODULE_INVALID/);
    const flags = await runTether(["cluster", "up", "--ports", "1,2"]);
    expect(flags.code).toBe(1);
    expect(flags.stderr).toMatch(/ERR_CONFIG_INVALID/);
  });
});

const canConnect = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = tcpConnect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
