/**
 * `npm run demo:trading`: seed 02's trading scenario, the speed camera beside the speed-limit sign.
 *
 * A trading agent trades inside its risk limit (its behavioural profile) and earns trust from its signed
 * action records. After a "model update" its first over-limit trade is blocked by the profile (signed
 * evidence, a trust penalty); then it drifts more subtly, inside the limit, and the drift verifier flags
 * it from the ECT stream. Its trust falls below the desk's threshold and the trust actor quarantines it:
 * a pause through the override plane, issued under the trust supervisor's operator key and acknowledged
 * by the trader's node. An operator lifts it. At the end the audit ledger is verified.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditLedger, OverrideActor, OverrideClient, TrustClient, VerifierClient, createAuditLedgerDeps, createOverridePorts } from "../actors/index.ts";
import { OVERRIDE_ACTOR_ID, exportPrivateJwk, generateSigningKey, parseRecord, verifyLedger, type KeyRole, type TrustExplanation } from "../protocols/index.ts";
import { ControlSigner, LedgerStream, Node, saveSigningKey, silentLogger, type NodeOptionsInput } from "../runtime/index.ts";
import { RISK_LIMIT, Trader, type OrderOutcome, type TraderMsg } from "./trading/trader.ts";

const say = (line = "") => process.stdout.write(`${line}\n`);
const keyDir = mkdtempSync(join(tmpdir(), "tether-trading-keys-"));
const THRESHOLD = 0.6;
/** The verifier's baseline window (orders), and the orders placed before the model update. */
const BASELINE = 30;
const BEFORE = 40;

/** A seeded normal sample (Box–Muller over a small LCG), so every run trades the same sizes. */
let seed = 20_260_211;
const uniform = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) + 1) / (2 ** 31 + 1);
const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
const short = (id: string | undefined) => (id ?? "-").slice(0, 8);

const options = (nodeId: string, servers: string[]): NodeOptionsInput => ({ nodeId, network: "trading", servers, assurance: { profile: "standard", keyDir } });

say("Tether demo: the trading desk (seed 02): catch, quarantine, trust change\n");
const desk = await Node.create(options("desk", (process.env["TETHER_NATS_URL"] ?? "").split(",").filter(Boolean)), { logger: silentLogger });
const risk = await Node.create(options("risk", [desk.url]), { logger: silentLogger });
try {
  await risk.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(risk, { keyDir, checkpointEvery: 1000 })] });
  const ports = await createOverridePorts(risk);
  risk.registerType(OverrideActor, { args: [ports] });
  await risk.spawn(OVERRIDE_ACTOR_ID, OverrideActor, { args: [ports] });

  // people and the supervisor's identity: the owner publishes an operator key for oscar and one for the trust actor
  const person = async (publisher: ControlSigner | "self", role: KeyRole, name: string): Promise<ControlSigner> => {
    const key = await generateSigningKey("ES256");
    const file = join(keyDir, `${name}.jwk.json`);
    saveSigningKey(file, await exportPrivateJwk(key));
    const signer = await ControlSigner.fromKeyFile(file, risk.network);
    await risk.controlNode(risk.id, { type: "tether.node.v1.key-publish", kid: key.kid, alg: key.alg, role, owner: name, jwk: { ...key.publicJwk } }, 10_000, { signer: publisher === "self" ? signer : publisher });
    return signer;
  };
  const owner = await person("self", "owner", "olivia");
  const oscar = await person(owner, "operator", "oscar");
  const supervisor = await person(owner, "operator", "trust-supervisor");

  // the verifier ignores the wall-clock pace of the agent (not stationary on a shared machine; docs/verifier.md)
  const verifier = await new VerifierClient({ params: { detector: { baseline: BASELINE }, ignoreSeries: ["rate"] } }).attach(risk).start();
  const trust = await new TrustClient({ quarantine: { threshold: THRESHOLD, signer: supervisor, ackDeadlineMs: 20_000 } }).attach(risk).start();
  const trader = await desk.spawn("trader", Trader);
  say(`- nodes desk and risk on ${desk.url} (standard profile: every action a signed ECT)`);
  say("- trader on desk; audit ledger, override actor, drift verifier and trust actor on risk");
  say(`- trader's profile: trade ACME|INIT, 1..${RISK_LIMIT} lots (the risk limit); a violation costs trust`);
  say(`- quarantine threshold ${THRESHOLD}: the trust actor pauses an agent below it, signing as trust-supervisor (operator role)\n`);

  const order = (qty: number): Promise<OrderOutcome> => trader.ask({ type: "order", symbol: "ACME", qty, price: 101.5 } satisfies TraderMsg) as Promise<OrderOutcome>;
  const explain = (why: TrustExplanation) => {
    say(`    score ${why.score.score.toFixed(3)} (α ${why.score.alpha.toFixed(2)}, β ${why.score.beta.toFixed(2)}, prior ${why.prior.alpha}/${why.prior.beta}, ${why.score.reports} outcomes)`);
    for (const s of why.shares) say(`    observer ${s.observer.padEnd(16)} +${s.positive.toFixed(2)} -${s.negative.toFixed(2)}${s.capped ? " (capped)" : ""} over ${s.reports} outcomes`);
    for (const e of why.recent.slice(-3)) say(`    evidence ${e.outcome.padEnd(9)} from ${e.observer.padEnd(16)} ECT ${short(e.report)}`);
  };

  // ---- 1. within limits
  say(`1. Before the model update: ${BEFORE} orders of about 50 lots (sd 5), inside the limit`);
  for (let i = 0; i < BEFORE; i++) await order(Math.round(50 + 5 * normal()));
  const base = await verifier.appraiseAll();
  await trust.ingestAll();
  say(`  verifier appraised ${base.appraised} actions: ${base.findings.length} findings`);
  const before = await trust.show("trader");
  say(`  TRUST BEFORE: ${before.score.score.toFixed(3)}`);
  explain(before);

  // ---- 2. the model update: the first over-limit trade is blocked by the profile
  say("\n2. A \"model update\" ships. The new model's first order: 120 lots");
  const blocked = await order(120);
  if (blocked.ok) throw new Error("the over-limit trade was not blocked");
  say(`  BLOCKED by the profile: ${blocked.code} (${blocked.kind}): ${blocked.reason}`);
  const ingested = await trust.ingestAll();
  const violation = (await trust.show("trader")).recent.findLast((e) => e.outcome === "violation");
  const evidence = await risk.assurance.store.get(violation?.report ?? "?");
  say(`  evidence: ECT ${short(evidence?.jti)} exec_act ${evidence?.exec_act}, issuer ${evidence?.iss}, outcome ${evidence?.outcome}, signed (${evidence?.token.split(".").length === 3 ? "ES256 JWS" : "unsigned"})`);
  say(`  trust after the violation: ${(await trust.score("trader")).score.toFixed(3)} (${ingested.counted} outcome counted from the ECT stream; no quarantine yet)`);

  // ---- 3. a subtler drift inside the limits
  say("\n3. The new model keeps trading inside the limit, but sizes drift to about 80 lots");
  let drifted = 0;
  let quarantined = (await trust.quarantines()).length > 0;
  let firstFinding: { series: string; direction: string; after: number; baselineMean: number; baselineSd: number; evidence?: string | undefined } | undefined;
  while (!quarantined && drifted < 60) {
    for (let i = 0; i < 5; i++, drifted++) await order(Math.round(80 + 5 * normal()));
    const r = await verifier.appraiseAll();
    firstFinding ??= r.findings.find((f) => f.series === "trade.qty");
    quarantined = (await trust.ingestAll()).quarantined.length > 0;
  }
  const findings = (await verifier.findings("trader")).filter((f) => f.series === "trade.qty");
  if (firstFinding === undefined) throw new Error("the verifier flagged no drift");
  say(`  DRIFT flagged by the verifier (Page–Hinkley on trade.qty): ${firstFinding.direction}, ${firstFinding.after - (BEFORE - BASELINE)} drifted orders after the model update, baseline mean ${firstFinding.baselineMean.toFixed(1)} sd ${firstFinding.baselineSd.toFixed(1)}; evidence ECT ${short(firstFinding.evidence)}`);
  say(`  ${findings.length} drift findings in ${drifted} drifted orders, each a signed evidence ECT and a ledger drift event`);

  // ---- 4. trust falls; the trust actor quarantines
  const [q] = await trust.quarantines();
  if (q === undefined) throw new Error("the trader was not quarantined");
  say(`\n4. QUARANTINE ${q.overrideId}: ${q.agent} paused (cause: ${q.cause}, trust ${q.score.toFixed(3)} < ${THRESHOLD}), issued by trust-supervisor`);
  say(`  coverage of the pause: ${q.acked}/${q.expected} acknowledged (from node ${desk.id})`);
  const held = trader.ask({ type: "order", symbol: "ACME", qty: 10, price: 101.5 } satisfies TraderMsg, { timeoutMs: 30_000 });
  let ran = false;
  void held.then(() => (ran = true));
  await new Promise((r) => setTimeout(r, 500));
  say(`  a new order to the trader while quarantined: ${ran ? "RAN" : "held in its mailbox"}`);
  const after = await trust.show("trader");
  say(`  TRUST AFTER: ${after.score.score.toFixed(3)} (before ${before.score.score.toFixed(3)})`);
  explain(after);

  // ---- 5. an operator reviews and lifts the quarantine
  const overrides = new OverrideClient({ nc: risk.nats, signer: oscar });
  const lift = await overrides.lift(q.overrideId, { reason: "model rolled back; reviewed by oscar" });
  const outcome = (await held) as OrderOutcome;
  say(`\n5. oscar (operator) lifts the quarantine (${lift.coverage.acked.size}/${lift.coverage.expected?.length ?? "?"} acknowledged): the held order ${outcome.ok ? `ran (${outcome.filled} lots)` : `failed (${outcome.code})`}`);

  // ---- the audit trail
  await risk.ref<typeof AuditLedger>("audit").ask({ type: "tether.audit.v1.checkpoint" });
  const records = (await LedgerStream.readAll(risk.nats, risk.subjects)).map((r) => parseRecord(r));
  const count = (event: string) => records.filter((r) => r.kind === "event" && r.body.event === event).length;
  say(`\nAudit trail (${records.length} ledger records):`);
  for (const event of ["violation", "drift", "trust.ingested", "trust.quarantined", "override.issued", "override.ack", "override.lifted"]) say(`  ${event.padEnd(18)} ${count(event)}`);
  const verdict = await verifyLedger(records, { resolveKey: (kid: string) => risk.assurance.keys.resolve(kid) });
  say(`\nLedger verification: ${verdict.ok ? "OK" : `FAILED (${verdict.firstProblem?.problem} at ${verdict.firstProblem?.position})`} (${verdict.records} records, ${verdict.checkpoints} checkpoints)`);
} finally {
  await risk.close();
  await desk.close();
  rmSync(keyDir, { recursive: true, force: true });
}
say("Done.");
