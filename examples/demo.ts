/**
 * `npm run demo`: an incident-response pipeline (triage → specialist → reviewer) on two nodes.
 * With no TETHER_NATS_URL, the first node starts its own nats-server on a free loopback port.
 */
import { Node, silentLogger, type NodeEvent } from "../runtime/index.ts";
import { isTetherError } from "../protocols/index.ts";
import { Reviewer, Specialist, Triage } from "./triage/agents.ts";

const say = (line: string) => process.stdout.write(`${line}\n`);
const servers = (process.env["TETHER_NATS_URL"] ?? "").split(",").filter(Boolean);

say("Tether demo: incident response across two nodes\n");
const ops = await Node.create({ nodeId: "ops", network: "demo", servers }, { logger: silentLogger });
say(servers.length === 0 ? `- node ops started an embedded nats-server at ${ops.url}` : `- node ops connected to ${ops.url}`);
const experts = await Node.create({ nodeId: "experts", network: "demo", servers: [ops.url] }, { logger: silentLogger });
say(`- node experts joined the same network through ${experts.url}`);

try {
  await ops.spawn("triage", Triage);
  await ops.spawn("reviewer", Reviewer);
  await experts.spawn("network-specialist", Specialist, { args: ["network"] });
  await experts.spawn("database-specialist", Specialist, { args: ["database"] });
  say("\nRegistry (every agent, wherever it runs):");
  for (const a of await ops.listActors()) say(`  ${a.actorId.padEnd(20)} ${a.className.padEnd(11)} on ${a.nodeId}`);

  const incidents = [
    { type: "incident.report", id: "INC-101", summary: "edge link eth3 flapping in region west", severity: "low" },
    { type: "incident.report", id: "INC-102", summary: "database query latency at 4s on orders", severity: "high" },
    { type: "incident.report", id: "INC-103", summary: "core router dropping 30% of packets", severity: "critical" },
  ] as const;

  const triage = ops.ref<typeof Triage>("triage");
  for (const incident of incidents) {
    say(`\n${incident.id} (${incident.severity}): ${incident.summary}`);
    const r = await triage.ask(incident);
    say(`  triage (ops) routed it to ${r.specialist} (experts)`);
    say(`  ${r.specialist} proposes: ${r.proposal}`);
    say(`  ${r.reviewer} (ops): ${r.approved ? "APPROVED" : "HELD"}, ${r.note}`);
  }

  say("\nBad input is refused with a typed error, never a crash:");
  const dead: NodeEvent[] = [];
  for (const node of [ops, experts]) node.onEvent((e) => e.type === "dead-letter" && dead.push(e));
  try {
    await ops.ref("triage").ask({ type: "incident.report", id: "INC-X", summary: "?", severity: "apocalyptic" });
  } catch (error) {
    say(`  ${isTetherError(error) ? error.code : "error"}: ${(error as Error).message}`);
  }
  try {
    await experts.ref("billing").ask({ type: "invoice" }, { timeoutMs: 1_000 });
  } catch (error) {
    say(`  ${isTetherError(error) ? error.code : "error"}: ${(error as Error).message}`);
  }
  await Promise.all([ops.flushDeadLetters(), experts.flushDeadLetters()]);
  say(`  ${dead.length} dead-letter record(s) stored in the network's JetStream stream: ${dead.map((e) => (e.type === "dead-letter" ? e.record.code : "")).join(", ")}`);
} finally {
  await experts.close();
  await ops.close();
}
say("\nBoth nodes drained their mailboxes, released their agents and stopped. Done.");
