/**
 * `npm run demo:router`: the seed-02 network-operations scenario, decided by trust-weighted vote.
 *
 * Question 1: router r7 stops answering some probes. The diagnosis agent says it is down, the
 * monitoring agent says it is up, the optimisation agent wants to reroute. Each agent signs its vote
 * with its own key; the consensus actor weighs each vote by the agent's trust score and decides.
 * Question 2: reroute traffic around r7 for the maintenance window? The optimisation and planning
 * agents split evenly: a tie, which escalates to an approval gate; the NOC operator chooses, signed.
 * Then the truth is known (a field technician's report): the NOC lead resolves both questions with a
 * signed resolve, and the agents that were wrong lose trust (scores before and after, with evidence).
 * At the end: the audit trail's consensus and approval records, and the ledger verified.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { Actor, ApprovalClient, AuditLedger, ConsensusClient, TrustClient, createAuditLedgerDeps, type ConsensusConfigInput } from "../actors/index.ts";
import { exportPrivateJwk, generateSigningKey, parseRecord, verifyLedger, type KeyRole, type ProposalRecord, type SigningKey } from "../protocols/index.ts";
import { ControlSigner, LedgerStream, Node, saveSigningKey, silentLogger, type NodeOptionsInput } from "../runtime/index.ts";

const say = (line = "") => process.stdout.write(`${line}\n`);
const keyDir = mkdtempSync(join(tmpdir(), "tether-router-keys-"));

const Assess = z.strictObject({ type: z.literal("assess"), proposal: z.string(), question: z.string() });
type Assess = z.infer<typeof Assess>;

/** An agent with an opinion per question; it casts its vote itself, signed with its own key. */
class NetAgent extends Actor<Assess> {
  static override readonly protocol = Assess;
  static override readonly capabilities: readonly string[] = ["netops"];
  readonly #opinions: Record<string, { choice: string; why: string }>;
  readonly #consensus: ConsensusClient;
  readonly #key: SigningKey;

  constructor(opinions: Record<string, { choice: string; why: string }>, consensus: ConsensusClient, key: SigningKey) {
    super();
    this.#opinions = opinions;
    this.#consensus = consensus;
    this.#key = key;
  }

  async handle(msg: Assess, ctx: { self: string }): Promise<string> {
    const opinion = this.#opinions[msg.proposal];
    if (opinion === undefined) return "abstains";
    say(`    ${ctx.self.padEnd(12)} votes ${opinion.choice.padEnd(8)} (${opinion.why})`);
    await this.#consensus.vote(ctx.self, this.#key, msg.proposal, opinion.choice);
    return opinion.choice;
  }
}
class CapacityAgent extends NetAgent {
  static override readonly capabilities: readonly string[] = ["capacity"];
}
class NetAndCapacityAgent extends NetAgent {
  static override readonly capabilities: readonly string[] = ["netops", "capacity"];
}

/** The NOC's policy: what each kind of question may ask. */
const config: ConsensusConfigInput = {
  policies: [
    { kind: "router-state", options: ["down", "up", "reroute"], capabilities: ["netops"], rules: ["majority", "supermajority"], deadlineMs: { max: 600_000 } },
    { kind: "reroute", options: ["reroute", "hold"], capabilities: ["capacity"], rules: ["majority"], deadlineMs: { max: 600_000 }, params: { trafficShare: { required: true, min: 0, max: 0.5 } }, closedParams: true },
  ],
};

const options = (nodeId: string, servers: string[]): NodeOptionsInput => ({ nodeId, network: "noc", servers, assurance: { profile: "standard", keyDir } });
const fmt = (x: number) => x.toFixed(3);
const tallyText = (r: ProposalRecord) => Object.entries(r.tally).map(([o, w]) => `${o} ${fmt(w)}`).join(", ");

say("Tether demo: the router question (seed 02), decided by trust-weighted vote\n");
const noc = await Node.create(options("noc", (process.env["TETHER_NATS_URL"] ?? "").split(",").filter(Boolean)), { logger: silentLogger });
const field = await Node.create(options("field", [noc.url]), { logger: silentLogger });
try {
  await noc.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(noc, { keyDir, checkpointEvery: 1000 })] });
  const trust = await new TrustClient().attach(noc).start();
  const approvals = await new ApprovalClient().attach(noc).start();
  const consensus = await new ConsensusClient({ trust, approvals, config }).attach(noc).start();
  say(`- nodes noc and field on ${noc.url} (standard profile); audit ledger, trust, approvals and consensus actors on noc`);

  const person = async (publisher: ControlSigner | "self", role: KeyRole, name: string): Promise<ControlSigner> => {
    const key = await generateSigningKey("ES256");
    const file = join(keyDir, `${name}.jwk.json`);
    saveSigningKey(file, await exportPrivateJwk(key));
    const signer = await ControlSigner.fromKeyFile(file, noc.network);
    await noc.controlNode(noc.id, { type: "tether.node.v1.key-publish", kid: key.kid, alg: key.alg, role, owner: name, jwk: { ...key.publicJwk } }, 10_000, { signer: publisher === "self" ? signer : publisher });
    return signer;
  };
  const agentKey = async (owner: ControlSigner, agent: string): Promise<SigningKey> => {
    const key = await generateSigningKey("ES256");
    await noc.controlNode(noc.id, { type: "tether.node.v1.key-publish", kid: key.kid, alg: key.alg, role: "agent", owner: agent, jwk: { ...key.publicJwk } }, 10_000, { signer: owner });
    return key;
  };
  const owner = await person("self", "owner", "olivia");
  const nadia = await person(owner, "approver", "nadia");
  say("- people: olivia (owner), nadia (NOC operator, role approver), each with an ES256 key");

  const onField = new ConsensusClient().use(field);
  const opinions = {
    diagnosis: { "r7-state": { choice: "down", why: "3 of 5 probes timed out" } },
    monitor: { "r7-state": { choice: "up", why: "BGP session and heartbeats are healthy" } },
    optimiser: { "r7-state": { choice: "reroute", why: "latency on r7 is up 40%" }, "r7-reroute": { choice: "reroute", why: "move 30% of traffic to r8 now" } },
    planner: { "r7-reroute": { choice: "hold", why: "the maintenance window is tonight; r8 is near capacity" } },
  } as const;
  await field.spawn("diagnosis", NetAgent, { args: [opinions.diagnosis, onField, await agentKey(owner, "diagnosis")] });
  await field.spawn("monitor", NetAgent, { args: [opinions.monitor, onField, await agentKey(owner, "monitor")] });
  await field.spawn("optimiser", NetAndCapacityAgent, { args: [opinions.optimiser, onField, await agentKey(owner, "optimiser")] });
  await field.spawn("planner", CapacityAgent, { args: [opinions.planner, onField, await agentKey(owner, "planner")] });
  say("- agents on field, each with its own agent key: diagnosis, monitor (netops), optimiser (netops, capacity), planner (capacity)");

  // history: the supervisor has seen the monitor right ten times and the diagnosis agent wrong three times
  for (let i = 0; i < 10; i++) await trust.report("supervisor", { subject: "monitor", outcome: "success" });
  for (let i = 0; i < 3; i++) await trust.report("supervisor", { subject: "diagnosis", outcome: "failure" });
  const agents = ["diagnosis", "monitor", "optimiser", "planner"];
  const before = Object.fromEntries(await Promise.all(agents.map(async (a) => [a, (await trust.score(a)).score] as const)));
  say(`\nTrust before (beta reputation; history: monitor 10 successes, diagnosis 3 failures, the others new):`);
  for (const a of agents) say(`  ${a.padEnd(10)} ${fmt(before[a] ?? 0)}`);

  // a proposal outside the NOC policy is refused before anyone votes
  const refused = await consensus
    .propose({ id: "r7-shutdown", kind: "reroute", question: "move all traffic off r7?", options: ["reroute", "hold"], capability: "capacity", rule: { kind: "majority" }, deadline: Date.now() + 60_000, params: { trafficShare: 1 } })
    .then(() => "opened", (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`);
  say(`\nPolicy check: a proposal to move 100% of the traffic → ${refused}`);

  // ---- question 1
  say("\nQuestion 1 (r7-state, majority of trust-weighted votes): is router r7 down?");
  await consensus.propose({ id: "r7-state", kind: "router-state", question: "is router r7 down?", options: ["down", "up", "reroute"], capability: "netops", rule: { kind: "majority" }, deadline: Date.now() + 120_000 });
  for (const a of ["diagnosis", "monitor", "optimiser"]) await field.ref(a).ask({ type: "assess", proposal: "r7-state", question: "is router r7 down?" });
  const q1 = await consensus.get("r7-state");
  say("  weights (declared × trust):");
  for (const v of q1.votes) say(`    ${v.voter.padEnd(12)} ${v.choice.padEnd(8)} weight ${fmt(v.weight)}`);
  say(`  tally: ${tallyText(q1)}`);
  say(`  DECISION (vote): ${q1.decision ?? q1.status}: one trusted agent outweighs two less trusted ones; decision ECT ${q1.ect?.slice(0, 8)} with ${q1.votes.length} vote ECTs as parents`);

  // ---- question 2
  say("\nQuestion 2 (r7-reroute, majority; trafficShare 0.3): reroute 30% of r7's traffic to r8 now?");
  await consensus.propose({ id: "r7-reroute", kind: "reroute", question: "reroute 30% of r7's traffic to r8 now?", options: ["reroute", "hold"], capability: "capacity", rule: { kind: "majority" }, deadline: Date.now() + 120_000, params: { trafficShare: 0.3 } });
  for (const a of ["optimiser", "planner"]) await field.ref(a).ask({ type: "assess", proposal: "r7-reroute", question: "reroute?" });
  let q2 = await consensus.get("r7-reroute");
  say(`  tally: ${tallyText(q2)}`);
  say(`  ESCALATED: ${q2.escalation}; approval gate ${q2.approval?.slice(0, 8)} opened for a human`);
  const gate = await approvals.get(q2.approval ?? "");
  say(`    summary: ${gate.explanation.summary}`);
  say(`    choices: ${gate.choices?.join(", ")}; deciders: roles ${gate.gate.deciders.roles.join(", ")}; evidence: escalation ECT ${gate.explanation.evidence[0]?.slice(0, 8)}`);
  const decided = await approvals.decide(nadia, gate.id, "approve", "r8 cannot take the load before the window; hold", "hold");
  const d = decided.decisions.at(-1);
  say(`  APPROVAL by ${d?.by} (${d?.role}, signed with ${d?.kid?.slice(0, 10)}…): chooses ${d?.choice}, "${d?.reason}"`);
  q2 = await consensus.settle("r7-reroute");
  say(`  DECISION (approval): ${q2.decision ?? q2.status}, decided by ${q2.decidedBy?.by}; decision ECT ${q2.ect?.slice(0, 8)} parented to the ${q2.votes.length} votes, the escalation and the approval`);

  // ---- the truth
  say("\nThe field technician reports: r7 was up (a flapping probe), and holding was right (r8 saturated at 21:00).");
  await consensus.resolve(nadia, "r7-state", "up");
  await consensus.resolve(nadia, "r7-reroute", "hold");
  say("  nadia resolves both questions with signed resolves: voters who chose the truth gain trust, the others lose it");
  say("\nTrust after:");
  for (const a of agents) {
    const after = (await trust.score(a)).score;
    const arrow = after < (before[a] ?? 0) ? "LOST" : after > (before[a] ?? 0) ? "gained" : "same";
    say(`  ${a.padEnd(10)} ${fmt(before[a] ?? 0)} → ${fmt(after)}  ${arrow}`);
    const why = await trust.show(a);
    for (const e of why.recent.filter((r) => r.observer === "agent:consensus")) say(`      evidence: ${e.outcome} (vote ECT ${e.evidence?.slice(0, 8)}, report ${e.report.slice(0, 8)}, assertion ${e.assertion?.slice(0, 8) ?? "-"})`);
  }

  // ---- the audit trail
  await noc.ref<typeof AuditLedger>("audit").ask({ type: "tether.audit.v1.checkpoint" });
  const records = (await LedgerStream.readAll(noc.nats, noc.subjects)).map((r) => parseRecord(r));
  say(`\nAudit trail: consensus and approval events (of ${records.length} ledger records):`);
  for (const r of records) {
    if (r.kind !== "event" || !/^(consensus|approval)\.|^violation$/.test(r.body.event)) continue;
    const x = r.body.details as Record<string, unknown>;
    const field = (k: string, label = k) => (x[k] === undefined || x[k] === null ? "" : ` ${label} ${String(x[k])}`);
    const extra = `${field("truth")}${field("decision")}${field("choice")}${field("by")}${field("code", "")}${r.body.event === "consensus.escalated" ? field("reason", "") : ""}`.replace(/ {2,}/g, " ");
    say(`  #${String(r.index).padEnd(3)} ${r.body.event.padEnd(24)} ${r.body.subject}${extra}`);
  }
  const verdict = await verifyLedger(records, { resolveKey: (kid: string) => noc.assurance.keys.resolve(kid) });
  say(`\nLedger verification: ${verdict.ok ? "OK" : `FAILED (${verdict.firstProblem?.problem} at ${verdict.firstProblem?.position})`} (${verdict.records} records, ${verdict.checkpoints} checkpoints)`);
} finally {
  await field.close();
  await noc.close();
  rmSync(keyDir, { recursive: true, force: true });
}
say("Done.");
