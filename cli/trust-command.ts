import type { Command } from "commander";
import { TRUST_ACTOR_ID, TrustClient } from "../actors/index.ts";
import type { TrustExplanation } from "../protocols/index.ts";
import { withClientNode } from "./client-node.ts";
import { natsOption } from "./nats-option.ts";
import { examples, jsonFlag, printOne, printRows } from "./output.ts";

interface TrustFlags {
  nats: string;
  network: string;
  trust: string;
  json?: boolean;
}

const common = (c: Command): Command =>
  jsonFlag(c.addOption(natsOption()).option("--network <name>", "network name", "default").option("--trust <actor>", "id of the network's trust actor", TRUST_ACTOR_ID));

const withTrust = <T>(flags: TrustFlags, fn: (client: TrustClient) => Promise<T>): Promise<T> => withClientNode(flags, (node) => fn(new TrustClient({ actorId: flags.trust }).use(node)));

const fixed = (x: number, digits = 3): string => x.toFixed(digits);
const when = (ms: number): string => new Date(ms).toISOString();

/** The text `tether trust show` prints: the score, how it is computed, and the evidence behind it. */
export const explainText = (e: TrustExplanation): string => {
  const s = e.score;
  const lines = [
    `agent     ${s.agent}`,
    `score     ${fixed(s.score)}  = alpha / (alpha + beta) = ${fixed(s.alpha)} / ${fixed(s.alpha + s.beta)}`,
    `prior     alpha ${e.prior.alpha}, beta ${e.prior.beta}${s.observers === 0 ? "  (no evidence: newcomer prior)" : ""}`,
    `decay     half-life ${Math.round(e.halfLifeMs / 1000)}s; each observer counts at most ${e.observerCap} positive and ${e.observerCap} negative`,
    `reports   ${s.reports} accepted from ${s.observers} observer(s)`,
    ...e.shares.map((o) => `observer  ${o.observer}  +${fixed(o.positive, 2)} -${fixed(o.negative, 2)}  (${o.reports} reports, last ${when(o.lastAt)})${o.capped ? "  CAPPED" : ""}`),
    ...e.recent.map((r) => `evidence  ${when(r.at)}  ${r.observer}  ${r.outcome}${r.count > 1 ? ` x${r.count}` : ""}  report ${r.report}${r.assertion === undefined ? "" : `  assertion ${r.assertion}`}${r.note === undefined ? "" : `  "${r.note}"`}`),
  ];
  return `${lines.join("\n")}\n`;
};

/** `tether trust ls|show <agent>|ingest|quarantines`: agents' trust scores, the evidence behind each, and the quarantines. */
export const registerTrustCommand = (program: Command): void => {
  const trust = examples(program.command("trust").description("trust scores of agents (beta reputation from signed outcome reports)"), "tether trust ls", "tether trust show diagnosis");
  common(examples(trust.command("ls").description("every scored agent, lowest score first"), "tether trust ls --json | jq -r .agent")).action((flags: TrustFlags) =>
    withTrust(flags, async (client) => {
      const rows = (await client.list()).sort((a, b) => a.score - b.score);
      printRows(flags.json, rows, {
        head: ["AGENT", "SCORE", "ALPHA", "BETA", "OBSERVERS", "REPORTS"],
        cells: (r) => [r.agent, fixed(r.score), fixed(r.alpha, 2), fixed(r.beta, 2), String(r.observers), String(r.reports)],
        empty: "no scored agents",
      });
    }),
  );
  common(examples(trust.command("show").argument("<agent>", "agent id").description("one agent's score explained by its evidence"), "tether trust show diagnosis")).action(
    (agent: string, flags: TrustFlags) =>
      withTrust(flags, async (client) => {
        const explanation = await client.show(agent);
        printOne(flags.json, explanation, explainText);
      }),
  );
  common(examples(trust.command("ingest").description("read the ECT stream on from the trust actor's position now and count what it proves"), "tether trust ingest")).action((flags: TrustFlags) =>
    withTrust(flags, async (client) => {
      const r = await client.ingestAll();
      process.stdout.write(flags.json === true ? `${JSON.stringify(r)}\n` : `read ${r.read} records: ${r.counted} outcomes counted, ${r.rejected} refused; position ${r.position}; ${r.quarantined.length} quarantined\n`);
    }),
  );
  common(examples(trust.command("quarantines").description("the quarantines the trust actor issued (pause overrides; lift with tether overrides lift <id>)"), "tether trust quarantines")).action((flags: TrustFlags) =>
    withTrust(flags, async (client) => {
      printRows(flags.json, await client.quarantines(), {
        head: ["AGENT", "OVERRIDE", "CAUSE", "SCORE", "ACKED", "AT", "EVIDENCE"],
        cells: (q) => [q.agent, q.overrideId, q.cause, fixed(q.score), q.issued ? `${q.acked ?? "?"}/${q.expected ?? "?"}` : (q.error ?? "pending"), when(q.at), q.evidence ?? "-"],
        empty: "no quarantines",
      });
    }),
  );
};
