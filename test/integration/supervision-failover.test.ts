import { describe, expect, it } from "vitest";
import { Supervisor, SupervisionHost, constantBackoff, defineSupervisor, type SupervisorEvent } from "../../supervisors/index.ts";
import { fleet } from "../fixtures/supervision-agents.ts";
import { Counter } from "../support/actors.ts";
import { eventually, startCluster, startNode, startServer } from "../support/nats.ts";
import { TetherProcess } from "../support/processes.ts";

type Took = Extract<SupervisorEvent, { type: "took-over" }>;

describe("a supervision tree on a 3-node cluster", () => {
  it("keeps working after the node that started it is SIGKILLed: the supervisor comes back on a survivor, restarts the lost child there, keeps the live ones and still restarts a failed child", async () => {
    await using cluster = await startCluster();
    const [u1, u2, u3] = cluster.urls as [string, string, string];
    const fast = { jetstreamReplicas: 3, heartbeatMs: 500, leaseTtlMs: 3_000 };
    await using b = await startNode(u2, { ...fast, nodeId: "sup-b" });
    await using c = await startNode(u3, { ...fast, nodeId: "sup-c" });
    const events: SupervisorEvent[] = [];
    for (const n of [b, c]) {
      n.registerType(Counter); // children placed here are built from it
      const host = SupervisionHost.of(n);
      host.register(fleet, { watchMs: 250 }); // this node can take the tree over
      host.onEvent((e) => events.push(e));
    }
    await using a = new TetherProcess(["node", "start", "--nats", u1, "--replicas", "3", "--lease-ms", "3000", "--node-id", "sup-a", "--agents", "test/fixtures/supervision-agents.ts"]);
    await a.waitFor(/node sup-a up .*supervising fleet/, 45_000);
    const nodeOf = async (id: string) => (await b.whereIs(id))?.record.nodeId;
    expect(await Promise.all(["fleet", "fleet-a", "fleet-b", "fleet-c"].map(nodeOf))).toEqual(["sup-a", "sup-a", "sup-b", "sup-c"]);
    const ref = (id: string) => b.ref<typeof Counter>(id);
    await ref("fleet-a").ask({ type: "add", n: 3 });
    await ref("fleet-b").ask({ type: "add", n: 5 });
    await ref("fleet-c").ask({ type: "add", n: 7 });

    a.child.kill("SIGKILL"); // the supervisor's node, and fleet-a with it
    await a.exited;
    await eventually(() => events.some((e) => e.type === "took-over"), 30_000, "supervisor taken over by a survivor");
    const took = events.find((e) => e.type === "took-over") as Took;
    expect(took.kept.toSorted()).toEqual(["fleet-b", "fleet-c"]);
    expect(took.lost).toEqual(["fleet-a"]);
    const home = await nodeOf("fleet");
    expect(["sup-b", "sup-c"]).toContain(home);
    await eventually(() => events.some((e) => e.type === "children-restarted" && e.children.includes("fleet-a")), 10_000, "fleet-a restarted");
    expect(await nodeOf("fleet-a")).toBe(home); // restarted on the supervisor's new node
    expect(await ref("fleet-a").ask({ type: "get" })).toBe(0); // a restart: fresh state
    expect(await ref("fleet-b").ask({ type: "get" })).toBe(5); // live children were kept, state and all
    expect(await ref("fleet-c").ask({ type: "get" })).toBe(7);

    // the taken-over supervisor still handles failures: fleet-b fails on sup-b and is restarted there
    await ref("fleet-b").ask({ type: "fail", reason: "after the takeover" }).catch(() => undefined);
    await eventually(() => events.some((e) => e.type === "children-restarted" && e.children.includes("fleet-b")), 10_000, "fleet-b restarted");
    expect(await nodeOf("fleet-b")).toBe("sup-b");
    expect(await ref("fleet-b").ask({ type: "get" })).toBe(0);
    expect(await ref("fleet-c").ask({ type: "get" })).toBe(7); // one_for_one: untouched
    const status = await SupervisionHost.of(b).status("fleet");
    expect(status).toMatchObject({ supervisor: "fleet", nodeId: home, phase: "running", restarts: 2 });
    expect(status.children.toSorted()).toEqual(["fleet-a", "fleet-b", "fleet-c"]);
  });
});

describe("a graceful stop of the node running a supervisor", () => {
  it("hands the supervisor to a node that registered its tree, which restarts the children that stopped with the old node", async () => {
    await using server = await startServer();
    await using leaving = await startNode(server.url);
    await using staying = await startNode(server.url);
    const tree = defineSupervisor({ id: "handed", backoff: constantBackoff({ delayMs: 5 }), children: [{ id: "handed-child", start: () => new Counter() }] });
    const events: SupervisorEvent[] = [];
    const host = SupervisionHost.of(staying);
    host.register(tree, { watchMs: 100 });
    host.onEvent((e) => events.push(e));
    await Supervisor.start(leaving, tree);
    expect((await staying.whereIs("handed-child"))?.record.nodeId).toBe(leaving.id);

    expect(await SupervisionHost.of(leaving).handOff()).toEqual([{ supervisor: "handed", to: staying.id }]);
    expect(host.local("handed")?.state.phase).toBe("running"); // moved with its state
    await leaving.close(); // the child stops with its node; the supervisor, now elsewhere, restarts it
    await eventually(async () => (await staying.whereIs("handed-child"))?.record.nodeId === staying.id, 10_000, "child restarted on the staying node");
    expect(events.find((e) => e.type === "took-over")).toMatchObject({ kept: ["handed-child"], lost: [] });
    // the registry names the new host as soon as the child is claimed, a moment before it subscribes
    await eventually(async () => (await staying.ref<typeof Counter>("handed-child").ask({ type: "get" }).catch(() => undefined)) === 0, 5_000, "restarted child answers");
  });
});
