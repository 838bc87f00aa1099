import { mkdtempSync, rmSync } from "node:fs";
import { NetOps } from "../fixtures/netops-agent.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { ApprovalClient, AuditLedger, ConsensusClient, TrustClient, createAuditLedgerDeps, mintActorEct, signVote, type ConsensusConfigInput } from "../../actors/index.ts";
import { encodeSend, exportPrivateJwk, generateSigningKey, type KeyRole, type ProposalRecord, type SigningKey } from "../../protocols/index.ts";
import { ControlSigner, FakeClock, saveSigningKey, type Node } from "../../runtime/index.ts";
import { eventually, startCluster, startNode, startServer } from "../support/nats.ts";
import { ledgerEvents } from "../support/override.ts";
import { runTether } from "../support/processes.ts";
import { readAnswer } from "../support/wire.ts";

const keyDir = mkdtempSync(join(tmpdir(), "tether-consensus-keys-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

class Bystander extends NetOps {
  static override readonly capabilities = ["billing"];
}

/** Publishes a key in the network's registry (the owner key publishes itself, then signs the rest). */
const publishKey = async (node: Node, signer: ControlSigner | "self", role: KeyRole, owner: string): Promise<{ key: SigningKey; signer: ControlSigner; file: string }> => {
  const key = await generateSigningKey("ES256");
  const file = join(keyDir, `${owner}-${role}-${key.kid}.jwk.json`);
  saveSigningKey(file, await exportPrivateJwk(key));
  const own = await ControlSigner.fromKeyFile(file, node.network);
  const request = { type: "tether.node.v1.key-publish", kid: key.kid, alg: key.alg, role, owner, jwk: { ...key.publicJwk } } as const;
  await node.controlNode(node.id, request, 5_000, { signer: signer === "self" ? own : signer });
  return { key, signer: own, file };
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

const setup = async (url: string, config?: ConsensusConfigInput) => {
  const clock = new FakeClock(Date.now());
  const node = await startNode(url, { assurance: { profile: "standard", keyDir } });
  await node.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(node, { keyDir, checkpointEvery: 1000 })] });
  const trust = await new TrustClient({ clock }).attach(node).start();
  const approvals = await new ApprovalClient({ clock, tickMs: 1_000 }).attach(node).start();
  const escalated: string[] = [];
  const consensus = await new ConsensusClient({ clock, trust, tickMs: 1_000, onEscalate: async (r) => void escalated.push(r.proposal.id), ...(config === undefined ? {} : { config }) })
    .attach(node)
    .start();
  const plain = await new ConsensusClient({ actorId: "consensus-plain", clock, tickMs: 1_000, approvals, onEscalate: async (r) => void escalated.push(r.proposal.id) }).attach(node).start();
  for (const id of ["diagnosis", "monitor", "optimiser"]) await node.spawn(id, NetOps);
  await node.spawn("intruder", Bystander);
  const owner = await publishKey(node, "self", "owner", "olivia");
  const keys: Record<string, SigningKey> = {};
  for (const id of ["diagnosis", "monitor", "optimiser", "intruder"]) keys[id] = (await publishKey(node, owner.signer, "agent", id)).key;
  const ada = await publishKey(node, owner.signer, "approver", "ada");
  const approver = ada.signer;
  const operator = (await publishKey(node, owner.signer, "operator", "oscar")).signer;
  return { clock, node, trust, approvals, consensus, plain, keys, escalated, owner: owner.signer, approver, approverFile: ada.file, operator };
};

describe("the consensus actor", () => {
  it("decides the router question by trust-weighted vote despite forged, double and ineligible votes, and moves the voters' trust", async () => {
    await using server = await startServer();
    const { clock, node, trust, consensus, keys, approver } = await setup(server.url);
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
      // nor can it push an unverified vote through the actor's own `apply` (it names votes the actor verified, in memory)
      const votesBefore = (await consensus.get("router-7")).votes.length;
      await nc.request(node.subjects.actor(consensus.actorId), encodeSend("ask", "raw-2", "agent:monitor", false, { type: "tether.consensus.v1.apply", ref: crypto.randomUUID() }), { timeout: 5_000 });
      expect((await consensus.get("router-7")).votes.length).toBe(votesBefore);
    } finally {
      await nc.close();
    }

    expect(await codeOf(consensus.vote("optimiser", k("optimiser"), "router-7", "down"))).toBe("ok");
    const receipt = await consensus.vote("monitor", k("monitor"), "router-7", "up");
    expect(receipt).toMatchObject({ voter: "monitor", choice: "up", status: "decided", decision: "up", counted: 3, eligible: 3 });
    const decided = await consensus.get("router-7");
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
    await consensus.resolve(approver, "router-7", "up");
    expect((await trust.score("diagnosis")).score).toBeLessThan(before.d);
    expect((await trust.score("optimiser")).score).toBeLessThan(before.o);
    expect((await trust.score("monitor")).score).toBeGreaterThan(before.m);
    expect((await trust.show("diagnosis")).shares.map((s) => s.observer)).toContain("agent:consensus");
  });

  it("accepts a resolve only when signed by a resolver: a plain NATS client's unsigned, forged, misdirected or replayed resolve moves no trust", async () => {
    await using server = await startServer();
    const { clock, node, trust, consensus, keys, approver, operator } = await setup(server.url);
    await using _n = node;
    const k = (id: string) => keys[id] as SigningKey;
    await consensus.propose({ id: "r1", question: "is router 1 down?", options: ["down", "up"], capability: "netops", rule: { kind: "majority" }, deadline: clock.now() + 60_000 });
    await consensus.vote("diagnosis", k("diagnosis"), "r1", "down");
    await consensus.vote("monitor", k("monitor"), "r1", "up");
    await consensus.vote("optimiser", k("optimiser"), "r1", "up");
    const scores = async () => Object.fromEntries(await Promise.all(["diagnosis", "monitor", "optimiser"].map(async (a) => [a, (await trust.score(a)).score] as const)));
    const before = await scores();

    const subject = node.subjects.actor(consensus.actorId);
    const nc = await connect({ servers: server.url });
    const attempts: Record<string, boolean> = {};
    const send = async (name: string, msg: unknown) => {
      const reply = await nc.request(subject, encodeSend("ask", `raw-${name}`, "agent:monitor", false, msg), { timeout: 5_000 });
      attempts[name] = readAnswer(reply.data).ok;
    };
    const body = { type: "tether.consensus.v1.resolve-body", proposal: "r1", truth: "down" } as const;
    const stranger = await ControlSigner.fromKeyFile((await (async () => {
      const key = await generateSigningKey("ES256");
      const file = join(keyDir, `stranger-${key.kid}.jwk.json`);
      saveSigningKey(file, await exportPrivateJwk(key));
      return file;
    })()), node.network);
    const asAgent = new ControlSigner({ key: k("diagnosis"), network: node.network });
    try {
      await send("old-shape", { type: "tether.consensus.v1.resolve", proposal: "r1", truth: "down" });
      await send("bare-body", { type: "tether.consensus.v1.resolve", envelope: body });
      await send("made-up-token", { type: "tether.consensus.v1.resolve", envelope: { type: "tether.control.v1.signed", token: "eyJhbGciOiJub25lIn0.eyJ4IjoxfQ." } });
      await send("unregistered-key", { type: "tether.consensus.v1.resolve", envelope: await stranger.sign(body, consensus.actorId) });
      await send("agent-key", { type: "tether.consensus.v1.resolve", envelope: await asAgent.sign(body, consensus.actorId) });
      await send("operator-key", { type: "tether.consensus.v1.resolve", envelope: await operator.sign(body, consensus.actorId) });
      await send("misdirected", { type: "tether.consensus.v1.resolve", envelope: await approver.sign(body, "consensus-plain") });
      expect(attempts).toEqual({ "old-shape": false, "bare-body": false, "made-up-token": false, "unregistered-key": false, "agent-key": false, "operator-key": false, misdirected: false });
      expect(await scores()).toEqual(before);
      expect((await consensus.get("r1")).status).toBe("decided");

      // the genuine resolve (sent over plain NATS by the approver's tool), captured and replayed byte for byte
      const genuine = await approver.sign({ ...body, truth: "up" }, consensus.actorId);
      const captured = encodeSend("ask", "raw-genuine", "agent:tool", false, { type: "tether.consensus.v1.resolve", envelope: genuine });
      const answer = readAnswer((await nc.request(subject, captured, { timeout: 5_000 })).data);
      expect(answer.ok).toBe(true);
      const resolved = await consensus.get("r1");
      expect(resolved.status).toBe("resolved");
      expect(resolved.resolvedBy).toBe("approver:ada");
      const after = await scores();
      expect(after["diagnosis"]).toBeLessThan(before["diagnosis"] ?? 0);
      expect(after["monitor"]).toBeGreaterThan(before["monitor"] ?? 1);
      const replay = await nc.request(subject, captured, { timeout: 5_000 });
      expect(readAnswer(replay.data).ok).toBe(false);
      expect(await scores()).toEqual(after);
    } finally {
      await nc.close();
    }
    // every refusal that reached the actor is a violation in the ledger (the two malformed shapes fail the schema before it)
    await eventually(async () => (await ledgerEvents(node, "violation")).filter((e) => e["code"] === "ERR_CONSENSUS_RESOLVE_REFUSED").length >= 6, 10_000, "resolve refusals in the ledger");
    const causes = (await ledgerEvents(node, "violation")).filter((e) => e["code"] === "ERR_CONSENSUS_RESOLVE_REFUSED").map((e) => e["cause"]);
    expect(causes).toEqual(expect.arrayContaining(["ERR_CONTROL_UNSIGNED", "ERR_CONTROL_KEY_UNKNOWN", "ERR_CONTROL_FORBIDDEN", "ERR_CONTROL_MISDIRECTED"]));
  });

  it("refuses a proposal that breaks the policy for its kind, records it, and opens one that complies", async () => {
    await using server = await startServer();
    const config: ConsensusConfigInput = {
      policies: [
        {
          kind: "reroute",
          options: ["reroute", "hold"],
          capabilities: ["netops"],
          rules: ["majority", "supermajority"],
          minQuorum: 2,
          deadlineMs: { min: 1_000, max: 120_000 },
          maxWeight: 3,
          params: { trafficShare: { required: true, min: 0, max: 0.5 }, via: { values: ["r8", "r9"] } },
          closedParams: true,
        },
      ],
    };
    const { clock, node, consensus } = await setup(server.url, config);
    await using _n = node;
    const ok = { id: "p-ok", kind: "reroute", question: "reroute 30% via r8?", options: ["reroute", "hold"], capability: "netops", rule: { kind: "majority" as const }, deadline: clock.now() + 60_000, params: { trafficShare: 0.3, via: "r8" } };
    const cases: Record<string, object> = {
      option: { options: ["reroute", "shutdown"] },
      capability: { capability: "billing" },
      rule: { rule: { kind: "unanimity" } },
      quorum: { quorum: 1 },
      deadlineFar: { deadline: clock.now() + 3_600_000 },
      deadlineNear: { deadline: clock.now() + 10 },
      weight: { weights: { diagnosis: 10 } },
      paramHigh: { params: { trafficShare: 0.9, via: "r8" } },
      paramMissing: { params: { via: "r8" } },
      paramValue: { params: { trafficShare: 0.2, via: "r1" } },
      paramUnknown: { params: { trafficShare: 0.2, drop: true } },
      kind: { kind: "shutdown" },
    };
    const codes: Record<string, string> = {};
    let n = 0;
    for (const [name, change] of Object.entries(cases)) codes[name] = await codeOf(consensus.propose({ ...ok, id: `p-bad-${n++}`, ...change }));
    expect(Object.values(codes).every((c) => c === "ERR_CONSENSUS_POLICY_VIOLATION")).toBe(true);
    expect(Object.keys(codes)).toHaveLength(12);
    // the same refusal for a plain NATS client that sends the proposal directly
    const nc = await connect({ servers: server.url });
    try {
      const reply = await nc.request(node.subjects.actor(consensus.actorId), encodeSend("ask", "raw-p", "agent:x", false, { type: "tether.consensus.v1.propose", ...ok, id: "p-raw", params: { trafficShare: 1 } }), { timeout: 5_000 });
      expect(readAnswer(reply.data).ok).toBe(false);
    } finally {
      await nc.close();
    }
    expect((await consensus.propose(ok)).status).toBe("open");
    await expect(consensus.get("p-bad-0")).rejects.toMatchObject({ code: "ERR_CONSENSUS_PROPOSAL" });
    await eventually(async () => (await ledgerEvents(node, "violation")).filter((e) => e["code"] === "ERR_CONSENSUS_POLICY_VIOLATION").length === 13, 10_000, "policy violations in the ledger");
    const recorded = (await ledgerEvents(node, "violation")).filter((e) => e["code"] === "ERR_CONSENSUS_POLICY_VIOLATION");
    const constraints = recorded.flatMap((e) => (e["breaches"] as { constraint: string }[]).map((b) => b.constraint));
    expect(new Set(constraints)).toEqual(new Set(["options", "capability", "rule", "quorum", "deadline", "weight", "params.trafficShare", "params.via", "params.drop", "kind"]));
  });

  it("escalates a tie to an approval gate: the approver's signed choice becomes the decision, an ECT parented to the votes and the approval", async () => {
    await using server = await startServer();
    const { clock, node, plain, approvals, keys, approver, approverFile, operator } = await setup(server.url);
    await using _n = node;
    const k = (id: string) => keys[id] as SigningKey;
    await plain.propose({ id: "tie", question: "reroute around router 7?", options: ["yes", "no"], capability: "netops", rule: { kind: "majority" }, deadline: clock.now() + 10_000 });
    await plain.vote("diagnosis", k("diagnosis"), "tie", "yes");
    await plain.vote("monitor", k("monitor"), "tie", "no");
    clock.advance(11_000);
    await eventually(async () => (await plain.get("tie")).approval !== undefined, 10_000, "the escalation's approval gate");
    const escalated = await plain.get("tie");
    expect(escalated.status).toBe("escalated");
    const gate = await approvals.get(escalated.approval ?? "");
    expect(gate.status).toBe("pending");
    expect(gate.choices).toEqual(["yes", "no"]);
    expect(gate.requestEct?.jti).toBeDefined();
    expect((await node.assurance.store.get(gate.requestEct?.jti ?? ""))?.par).toEqual([escalated.ect]);

    // a plain NATS client nudging the actor changes nothing while the gate is pending
    const nc = await connect({ servers: server.url });
    try {
      await nc.request(node.subjects.actor(plain.actorId), encodeSend("ask", "raw-s", "agent:x", false, { type: "tether.consensus.v1.settle", proposal: "tie" }), { timeout: 5_000 });
    } finally {
      await nc.close();
    }
    expect((await plain.get("tie")).status).toBe("escalated");
    // an operator may not approve; an approval must name one of the options
    expect(await codeOf(approvals.decide(operator, gate.id, "approve", "go", "yes"))).toBe("ERR_CONTROL_FORBIDDEN");
    expect(await codeOf(approvals.decide(approver, gate.id, "approve", "go"))).toBe("ERR_APPROVAL_CHOICE_INVALID");
    expect(await codeOf(approvals.decide(approver, gate.id, "approve", "go", "maybe"))).toBe("ERR_APPROVAL_CHOICE_INVALID");
    // the operator's CLI: tether approvals show lists the choices, tether approve --choice signs one
    const shown = await runTether(["approvals", "show", gate.id, "--approvals", approvals.actorId, "--nats", server.url]);
    expect(shown.stdout).toContain("choices   yes, no");
    const cli = await runTether(["approve", gate.id, "--signer", approverFile, "--reason", "traffic is dropping", "--choice", "yes", "--approvals", approvals.actorId, "--nats", server.url]);
    expect(cli.stdout).toContain(`approval ${gate.id}: approved`);
    const approved = await approvals.get(gate.id);
    const decision = approved.decisions.at(-1);
    expect(decision?.choice).toBe("yes");

    const settled = await plain.settle("tie");
    expect(settled.status).toBe("decided");
    expect(settled.decision).toBe("yes");
    expect(settled.decidedBy).toMatchObject({ kind: "approval", by: "ada", role: "approver", ect: decision?.ect?.jti });
    const ect = await node.assurance.store.get(settled.ect ?? "missing");
    expect(ect?.exec_act).toBe("consensus.decide");
    expect([...(ect?.par ?? [])].sort()).toEqual([...settled.votes.map((v) => v.jti), escalated.ect, decision?.ect?.jti].sort());
    await eventually(async () => (await ledgerEvents(node, "consensus.decided")).some((e) => e["subject"] === "tie" && e["by"] === "ada"), 10_000, "the decision in the ledger");
  });

  it("closes an escalation without a decision when the approver rejects it, or the gate times out (fake clock)", async () => {
    await using server = await startServer();
    const { clock, node, plain, approvals, keys, approver } = await setup(server.url);
    await using _n = node;
    const k = (id: string) => keys[id] as SigningKey;
    for (const id of ["rej", "quiet"]) {
      await plain.propose({ id, question: `${id}?`, options: ["yes", "no"], capability: "netops", rule: { kind: "majority" }, deadline: clock.now() + 5_000 });
      await plain.vote("diagnosis", k("diagnosis"), id, "yes");
      await plain.vote("monitor", k("monitor"), id, "no");
    }
    clock.advance(6_000);
    await eventually(async () => (await plain.get("rej")).approval !== undefined && (await plain.get("quiet")).approval !== undefined, 10_000, "two gates");
    await approvals.decide(approver, (await plain.get("rej")).approval ?? "", "reject", "neither: wait for the field team");
    await eventually(async () => {
      clock.advance(1_000);
      return (await plain.get("rej")).status === "rejected";
    }, 10_000, "the rejection settles on a tick");
    expect((await plain.get("rej")).decision).toBeUndefined();
    expect((await node.assurance.store.get((await plain.get("rej")).ect ?? ""))?.exec_act).toBe("consensus.reject");
    // the escalation gate's default: 10 minutes, then rejected
    expect((await plain.get("quiet")).status).toBe("escalated");
    clock.advance(600_000);
    await eventually(async () => {
      clock.advance(1_000);
      return (await plain.get("quiet")).status === "rejected";
    }, 10_000, "the gate's timeout");
    expect((await plain.get("quiet")).decidedBy).toMatchObject({ kind: "approval", role: "system" });
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

  it("keeps at most maxProposals: the oldest closed one makes room, open ones are never dropped", async () => {
    await using server = await startServer();
    const { clock, node, keys } = await setup(server.url);
    await using _n = node;
    const small = await new ConsensusClient({ actorId: "consensus-small", clock, maxProposals: 2 }).attach(node).start();
    const open = (id: string) => small.propose({ id, question: `${id}?`, options: ["yes", "no"], capability: "netops", rule: { kind: "majority" }, deadline: clock.now() + 60_000 });
    await open("a");
    await open("b");
    expect(await codeOf(open("c"))).toBe("ERR_CONSENSUS_PROPOSAL");
    for (const id of ["diagnosis", "monitor", "optimiser"]) await small.vote(id, keys[id] as SigningKey, "a", "yes");
    expect((await small.get("a")).status).toBe("decided");
    expect((await open("c")).status).toBe("open");
    expect(await codeOf(small.get("a"))).toBe("ERR_CONSENSUS_PROPOSAL");
    expect((await small.get("b")).status).toBe("open");
    // the vote budget (the checkpoint's size) drops closed proposals too
    const lean = await new ConsensusClient({ actorId: "consensus-lean", clock, maxStoredVotes: 2 }).attach(node).start();
    await lean.propose({ id: "x", question: "x?", options: ["yes", "no"], capability: "netops", rule: { kind: "majority" }, deadline: clock.now() + 60_000 });
    for (const id of ["diagnosis", "monitor", "optimiser"]) await lean.vote(id, keys[id] as SigningKey, "x", "no");
    await lean.propose({ id: "y", question: "y?", options: ["yes", "no"], capability: "netops", rule: { kind: "majority" }, deadline: clock.now() + 60_000 });
    expect(await codeOf(lean.get("x"))).toBe("ERR_CONSENSUS_PROPOSAL");
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

  it("on a 3-node cluster, Byzantine voters (forged signatures, a double vote from two nodes at once, late and ineligible voters) are refused and recorded; the honest majority decides, a split escalates", async () => {
    await using cluster = await startCluster();
    const [u1, u2, u3] = cluster.urls as [string, string, string];
    const clock = new FakeClock(Date.now());
    const opts = { jetstreamReplicas: 3, assurance: { profile: "standard", keyDir } } as const;
    await using host = await startNode(u1, opts);
    await using b = await startNode(u2, opts);
    await using c = await startNode(u3, opts);
    await host.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(host, { keyDir, checkpointEvery: 1000 })] });
    const trust = await new TrustClient({ clock }).attach(host).start();
    const approvals = await new ApprovalClient({ clock }).attach(host).start();
    const consensus = await new ConsensusClient({ clock, trust, approvals }).attach(host).start();
    const onB = new ConsensusClient().use(b);
    const onC = new ConsensusClient().use(c);
    for (const id of ["v1", "v2"]) await b.spawn(id, NetOps);
    for (const id of ["v3", "v4", "v5"]) await c.spawn(id, NetOps);
    await b.spawn("outsider", Bystander);
    const owner = await publishKey(host, "self", "owner", "olivia");
    const keys: Record<string, SigningKey> = {};
    for (const id of ["v1", "v2", "v3", "v4", "v5", "outsider"]) keys[id] = (await publishKey(host, owner.signer, "agent", id)).key;
    const k = (id: string) => keys[id] as SigningKey;
    await eventually(async () => (await host.listActors()).filter((r) => r.capabilities.includes("netops")).length === 5, 10_000, "voters registered");

    await consensus.propose({ id: "core-1", question: "is core router 1 down?", options: ["down", "up"], capability: "netops", rule: { kind: "majority" }, deadline: clock.now() + 30_000 });
    // v1 votes twice at once from two nodes: exactly one counts
    const double = await Promise.all([codeOf(onB.vote("v1", k("v1"), "core-1", "down")), codeOf(onC.vote("v1", k("v1"), "core-1", "up"))]);
    expect(double.sort()).toEqual(["ERR_CONSENSUS_VOTE_REFUSED:duplicate", "ok"]);
    // forged: v5's name with v4's key, and v5's name with node c's own key (the node hosting v5)
    expect(await codeOf(onC.vote("v5", k("v4"), "core-1", "down"))).toBe("ERR_CONSENSUS_VOTE_REFUSED:forged");
    const body = { type: "tether.consensus.v1.vote-body", proposal: "core-1", choice: "down" } as const;
    const byNode = await mintActorEct(c, { actorId: "v5", act: "consensus.vote", par: [], wid: undefined, input: body, ext: {} });
    expect(await codeOf(c.ref(consensus.actorId).ask({ type: "tether.consensus.v1.vote", body, token: byNode.token }))).toBe("ERR_CONSENSUS_VOTE_REFUSED:forged");
    // a plain NATS client on the third server replays v2's genuine vote token over another choice
    const genuine = await signVote(b, "v2", k("v2"), { proposal: "core-1", choice: "up" });
    const nc = await connect({ servers: u3 });
    try {
      const reply = await nc.request(host.subjects.actor(consensus.actorId), encodeSend("ask", "raw-c", "agent:v2", false, { ...genuine, body: { ...genuine.body, choice: "down" } }), { timeout: 5_000 });
      expect(readAnswer(reply.data).ok).toBe(false);
    } finally {
      await nc.close();
    }
    expect(await codeOf(onB.vote("outsider", k("outsider"), "core-1", "down"))).toBe("ERR_CONSENSUS_VOTE_REFUSED:ineligible");
    // the honest voters, from the nodes hosting them
    expect(await codeOf(onB.cast(genuine))).toBe("ok");
    expect(await codeOf(onC.vote("v3", k("v3"), "core-1", "up"))).toBe("ok");
    expect(await codeOf(onC.vote("v4", k("v4"), "core-1", "up"))).toBe("ok");
    clock.advance(31_000);
    await eventually(async () => (await consensus.get("core-1")).status !== "open", 10_000, "the deadline tally");
    const record = await consensus.get("core-1");
    expect(record.status).toBe("decided");
    expect(record.decision).toBe("up");
    expect(record.votes.map((v) => v.voter).sort()).toEqual(["v1", "v2", "v3", "v4"]);
    expect(record.refused.map((r) => r.reason).sort()).toEqual(["duplicate", "forged", "forged", "forged", "ineligible"]);
    expect(await codeOf(onC.vote("v5", k("v5"), "core-1", "down"))).toBe("ERR_CONSENSUS_VOTE_REFUSED:late");
    await eventually(async () => (await ledgerEvents(host, "violation")).filter((e) => e["code"] === "ERR_CONSENSUS_VOTE_REFUSED").length === 6, 10_000, "refusals in the ledger");
    const reasons = (await ledgerEvents(host, "violation")).filter((e) => e["code"] === "ERR_CONSENSUS_VOTE_REFUSED").map((e) => e["reason"]);
    expect(reasons.sort()).toEqual(["duplicate", "forged", "forged", "forged", "ineligible", "late"]);

    // a split: two and two, v5 silent: a tie at the deadline escalates to an approval gate
    await consensus.propose({ id: "core-2", question: "reroute around core router 1?", options: ["yes", "no"], capability: "netops", rule: { kind: "majority" }, deadline: clock.now() + 30_000 });
    await Promise.all([onB.vote("v1", k("v1"), "core-2", "yes"), onB.vote("v2", k("v2"), "core-2", "yes"), onC.vote("v3", k("v3"), "core-2", "no"), onC.vote("v4", k("v4"), "core-2", "no")]);
    clock.advance(31_000);
    await eventually(async () => (await consensus.get("core-2")).approval !== undefined, 10_000, "the escalation gate");
    const split = await consensus.get("core-2");
    expect(split.status).toBe("escalated");
    expect(split.escalation).toMatch(/^tie between/);
    expect((await approvals.get(split.approval ?? "")).status).toBe("pending");
  });
});
