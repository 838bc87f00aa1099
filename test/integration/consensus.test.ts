import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { Actor, ConsensusClient, TrustClient, mintActorEct, signVote } from "../../actors/index.ts";
import { encodeSend, exportPrivateJwk, generateSigningKey, type KeyRole, type ProposalRecord, type SigningKey } from "../../protocols/index.ts";
import { ControlSigner, FakeClock, saveSigningKey, type Node } from "../../runtime/index.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";
import { readAnswer } from "../support/wire.ts";
import { z } from "zod";

const keyDir = mkdtempSync(join(tmpdir(), "tether-consensus-keys-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

class NetOps extends Actor<{ type: "ping" }> {
  static override readonly protocol = z.strictObject({ type: z.literal("ping") });
  static override readonly capabilities = ["netops"];
  handle(): string {
    return "pong";
  }
}
class Bystander extends NetOps {
  static override readonly capabilities = ["billing"];
}

/** Publishes a key in the network's registry (the owner key publishes itself, then signs the rest). */
const publishKey = async (node: Node, signer: ControlSigner | "self", role: KeyRole, owner: string): Promise<{ key: SigningKey; signer: ControlSigner }> => {
  const key = await generateSigningKey("ES256");
  const file = join(keyDir, `${owner}-${role}-${key.kid}.jwk.json`);
  saveSigningKey(file, await exportPrivateJwk(key));
  const own = await ControlSigner.fromKeyFile(file, node.network);
  const request = { type: "tether.node.v1.key-publish", kid: key.kid, alg: key.alg, role, owner, jwk: { ...key.publicJwk } } as const;
  await node.controlNode(node.id, request, 5_000, { signer: signer === "self" ? own : signer });
  return { key, signer: own };
};

const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return "ok";
  } catch (error) {
    const e = error as { code?: string; details?: { reason?: string } };
    return e.details?.reason === undefined ? (e.code ?? String(error)) : `${e.code}:${e.details.reason}`;
  }
};

const setup = async (url: string) => {
  const clock = new FakeClock(Date.now());
  const node = await startNode(url, { assurance: { profile: "standard", keyDir } });
  const trust = await new TrustClient({ clock }).attach(node).start();
  const escalated: string[] = [];
  const consensus = await new ConsensusClient({ clock, trust, tickMs: 1_000, onEscalate: async (r) => void escalated.push(r.proposal.id) }).attach(node).start();
  const plain = await new ConsensusClient({ actorId: "consensus-plain", clock, tickMs: 1_000, onEscalate: async (r) => void escalated.push(r.proposal.id) }).attach(node).start();
  for (const id of ["diagnosis", "monitor", "optimiser"]) await node.spawn(id, NetOps);
  await node.spawn("intruder", Bystander);
  const owner = await publishKey(node, "self", "owner", "olivia");
  const keys: Record<string, SigningKey> = {};
  for (const id of ["diagnosis", "monitor", "optimiser", "intruder"]) keys[id] = (await publishKey(node, owner.signer, "agent", id)).key;
  return { clock, node, trust, consensus, plain, keys, escalated };
};

describe("the consensus actor", () => {
  it("decides the router question by trust-weighted vote despite forged, double and ineligible votes, and moves the voters' trust", async () => {
    await using server = await startServer();
    const { clock, node, trust, consensus, keys } = await setup(server.url);
    await using _n = node;
    const k = (id: string) => keys[id] as SigningKey;
    // history: the monitor has been right, the diagnosis agent wrong
    for (let i = 0; i < 10; i++) await trust.report("supervisor", { subject: "monitor", outcome: "success" });
    for (let i = 0; i < 3; i++) await trust.report("supervisor", { subject: "diagnosis", outcome: "failure" });

    const opened = await consensus.propose({ id: "router-7", question: "is router 7 down?", options: ["down", "up"], capability: "netops", rule: { kind: "majority" }, deadline: clock.now() + 60_000 });
    expect(opened.eligible).toEqual(["diagnosis", "monitor", "optimiser"]);

    expect(await codeOf(consensus.vote("diagnosis", k("diagnosis"), "router-7", "down"))).toBe("ok");
    expect(await codeOf(consensus.vote("diagnosis", k("diagnosis"), "router-7", "up"))).toBe("ERR_CONSENSUS_VOTE_REFUSED:duplicate");
    expect(await codeOf(consensus.vote("intruder", k("intruder"), "router-7", "down"))).toBe("ERR_CONSENSUS_VOTE_REFUSED:ineligible");
    // forged: the monitor's name with another agent's key, with an unregistered key, with the node's key
    expect(await codeOf(consensus.vote("monitor", k("diagnosis"), "router-7", "down"))).toBe("ERR_CONSENSUS_VOTE_REFUSED:forged");
    expect(await codeOf(consensus.vote("monitor", await generateSigningKey("ES256"), "router-7", "down"))).toBe("ERR_CONSENSUS_VOTE_REFUSED:forged");
    const body = { type: "tether.consensus.v1.vote-body", proposal: "router-7", choice: "down" } as const;
    const byNode = await mintActorEct(node, { actorId: "monitor", act: "consensus.vote", par: [], wid: undefined, input: body, ext: {} });
    expect(await codeOf(node.ref(consensus.actorId).ask({ type: "tether.consensus.v1.vote", body, token: byNode.token }))).toBe("ERR_CONSENSUS_VOTE_REFUSED:forged");
    // a genuine vote token over another choice
    const genuine = await signVote(node, "monitor", k("monitor"), { proposal: "router-7", choice: "up" });
    expect(await codeOf(node.ref(consensus.actorId).ask({ ...genuine, body: { ...genuine.body, choice: "down" } }))).toBe("ERR_CONSENSUS_VOTE_REFUSED:forged");

    // a plain NATS client cannot cast a vote either (standard lets its untokened ask through to the actor, which refuses it)
    const nc = await connect({ servers: server.url });
    try {
      const reply = await nc.request(node.subjects.actor(consensus.actorId), encodeSend("ask", "raw-1", "agent:monitor", false, { ...genuine, body: { ...genuine.body, choice: "down" } }), { timeout: 5_000 });
      expect(readAnswer(reply.data).ok).toBe(false);
    } finally {
      await nc.close();
    }

    expect(await codeOf(consensus.vote("optimiser", k("optimiser"), "router-7", "down"))).toBe("ok");
    const decided = await consensus.vote("monitor", k("monitor"), "router-7", "up");
    // one trusted "up" outweighs two "down" from a distrusted and a newcomer agent
    expect(decided.status).toBe("decided");
    expect(decided.decision).toBe("up");
    expect(decided.votes.map((v) => v.voter)).toEqual(["diagnosis", "optimiser", "monitor"]);
    expect(decided.refused.map((r) => r.reason).sort()).toEqual(["duplicate", "forged", "forged", "forged", "forged", "forged", "ineligible"]);
    const down = decided.tally["down"] ?? 0;
    const up = decided.tally["up"] ?? 0;
    expect(up).toBeGreaterThan(down);
    expect(down).toBeCloseTo(1 / 5 + 1 / 2, 3); // diagnosis 1/(1+4), optimiser the newcomer prior
    // the decision is an ECT whose parents are the accepted votes
    const ect = await node.assurance.store.get(decided.ect ?? "missing");
    expect(ect?.exec_act).toBe("consensus.decide");
    expect([...(ect?.par ?? [])].sort()).toEqual(decided.votes.map((v) => v.jti).sort());
    // a vote after the decision is late
    expect(await codeOf(consensus.vote("optimiser", k("optimiser"), "router-7", "up"))).toBe("ERR_CONSENSUS_VOTE_REFUSED:late");

    // the router was up: those who said down lose trust, the monitor gains
    const before = { d: (await trust.score("diagnosis")).score, o: (await trust.score("optimiser")).score, m: (await trust.score("monitor")).score };
    await consensus.resolve("router-7", "up");
    expect((await trust.score("diagnosis")).score).toBeLessThan(before.d);
    expect((await trust.score("optimiser")).score).toBeLessThan(before.o);
    expect((await trust.score("monitor")).score).toBeGreaterThan(before.m);
    expect((await trust.show("diagnosis")).shares.map((s) => s.observer)).toContain("agent:consensus");
  });

  it("escalates a split vote at the deadline, and refuses late votes", async () => {
    await using server = await startServer();
    const { clock, node, plain, keys, escalated } = await setup(server.url);
    await using _n = node;
    const k = (id: string) => keys[id] as SigningKey;
    await plain.propose({ id: "reroute", question: "reroute around router 7?", options: ["yes", "no"], capability: "netops", rule: { kind: "majority" }, deadline: clock.now() + 10_000 });
    await plain.vote("diagnosis", k("diagnosis"), "reroute", "yes");
    await plain.vote("monitor", k("monitor"), "reroute", "no");
    clock.advance(11_000);
    let record: ProposalRecord | undefined;
    await eventually(async () => {
      record = await plain.get("reroute");
      return record.status !== "open";
    }, 10_000, "the deadline tally");
    expect(record?.status).toBe("escalated");
    expect(record?.escalation).toMatch(/^tie between/);
    expect(escalated).toEqual(["reroute"]);
    const ect = await node.assurance.store.get(record?.ect ?? "missing");
    expect(ect?.exec_act).toBe("consensus.escalate");
    expect(ect?.par).toHaveLength(2);
    expect(await codeOf(plain.vote("optimiser", k("optimiser"), "reroute", "yes"))).toBe("ERR_CONSENSUS_VOTE_REFUSED:late");
    expect((await plain.get("reroute")).refused.map((r) => r.reason)).toEqual(["late"]);
  });

  it("escalates without quorum", async () => {
    await using server = await startServer();
    const { clock, node, plain, keys } = await setup(server.url);
    await using _n = node;
    await plain.propose({ id: "q", question: "restart?", options: ["yes", "no"], capability: "netops", rule: { kind: "supermajority", threshold: 0.66 }, deadline: clock.now() + 5_000 });
    await plain.vote("diagnosis", keys["diagnosis"] as SigningKey, "q", "yes");
    clock.advance(6_000);
    await eventually(async () => (await plain.get("q")).status === "escalated", 10_000, "escalation");
    expect((await plain.get("q")).escalation).toMatch(/no quorum \(1 of 2/);
  });
});
