import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { ApprovalClient, Workflows } from "../actors/index.ts";
import { exportPrivateJwk, generateSigningKey, type KeyRole } from "../protocols/index.ts";
import { ControlSigner, NatsServer, Node, approvalLink, saveSigningKey, silentLogger, systemClock, type ActorContext } from "../runtime/index.ts";
import { comparedWith, valued, type ComparedMetric, type ValueMetric } from "./report.ts";
import { median, sleep } from "./stats.ts";

export interface HitlOptions {
  readonly approvals: number;
  readonly rounds: number;
  readonly steps: number;
}

const log = (line: string) => process.stderr.write(`[bench] hitl: ${line}\n`);

const GatedMsg = z.strictObject({ type: z.literal("gated"), n: z.number() });
/** Runs one gated action per message. */
class GatedAgent {
  static readonly protocol = GatedMsg;
  async handle(msg: z.infer<typeof GatedMsg>, ctx: ActorContext): Promise<number> {
    return ctx.act("wire-transfer", { n: msg.n }, () => msg.n);
  }
}

const StepMsg = z.strictObject({ type: z.literal("step"), value: z.number().optional() });
/** One workflow step (or one direct ask): adds one. */
class Adder {
  static readonly protocol = StepMsg;
  handle(msg: z.infer<typeof StepMsg>): { value: number } {
    return { value: (msg.value ?? 0) + 1 };
  }
}

const publishKey = async (node: Node, dir: string, role: KeyRole, name: string, by: ControlSigner | "self"): Promise<ControlSigner> => {
  const key = await generateSigningKey("ES256");
  const file = join(dir, `${name}.jwk.json`);
  saveSigningKey(file, await exportPrivateJwk(key));
  const signer = await ControlSigner.fromKeyFile(file, node.network);
  await node.controlNode(node.id, { type: "tether.node.v1.key-publish", kid: key.kid, alg: key.alg, role, owner: name, jwk: { ...key.publicJwk } }, 5_000, { signer: by === "self" ? signer : by });
  return signer;
};

/**
 * Approval round trip: a gated ctx.act is asked; a bench "human" polls the pending list, signs an
 * approval as soon as the request shows, and the time is taken when the action's reply arrives (request
 * → decision → action resumes, polling included). Workflow step ratio: a linear chain of `steps` steps
 * run by a workflow actor vs the same chain of direct asks from the caller, in steps per second.
 */
export const runHitl = async (options: HitlOptions): Promise<{ values: ValueMetric[]; compared: ComparedMetric<"direct">[] }> => {
  const dir = mkdtempSync(join(tmpdir(), "tether-bench-hitl-"));
  const server = await NatsServer.start({ name: "bench-hitl" });
  const approvals = new ApprovalClient({ waitRoundMs: 10_000 });
  const policies = [{ id: "transfers", action: "wire-transfer", gate: { deciders: { roles: ["approver" as const] }, timeoutMs: 60_000 } }];
  const host = await Node.create({ servers: [server.url], nodeId: "host" }, { logger: silentLogger, actionInterceptors: [approvalLink({ policies, port: approvals, clock: systemClock })] });
  const closers: (() => Promise<void>)[] = [];
  try {
    approvals.attach(host);
    await approvals.start();
    const owner = await publishKey(host, dir, "owner", "owner", "self");
    const approver = await publishKey(host, dir, "approver", "approver", owner);
    await host.spawn("gated", GatedAgent);
    const gated = host.ref<typeof GatedAgent>("gated");
    const trips: number[] = [];
    for (let i = 0; i < options.approvals; i++) {
      const t0 = performance.now();
      const reply = gated.ask({ type: "gated", n: i }, { timeoutMs: 30_000 });
      let id: string | undefined;
      while (id === undefined) {
        id = (await approvals.list("pending"))[0]?.id;
        if (id === undefined) await sleep(1);
      }
      await approvals.decide(approver, id, "approve");
      await reply;
      trips.push(performance.now() - t0);
    }
    log(`approval round trips (ms): ${trips.map((t) => t.toFixed(1)).join(" ")}`);

    // the step agents live on another node, so direct asks and workflow steps both cross NATS
    const agents = await Node.create({ servers: [server.url], nodeId: "agents" }, { logger: silentLogger });
    closers.push(() => agents.close());
    for (let i = 0; i < options.steps; i++) await agents.spawn(`adder-${i}`, Adder);
    const workflows = Workflows.register(host);
    const definition = {
      name: "chain",
      steps: Array.from({ length: options.steps }, (_, i) => ({
        id: `s${i}`,
        agent: `adder-${i}`,
        message: { type: "step" },
        ...(i === 0 ? {} : { dependsOn: [`s${i - 1}`], input: { value: { from: "step" as const, step: `s${i - 1}`, path: "value" } } }),
      })),
    };
    const direct: number[] = [];
    const viaWorkflow: number[] = [];
    for (let round = 0; round < options.rounds + 1; round++) {
      let t0 = performance.now();
      let value = 0;
      for (let i = 0; i < options.steps; i++) value = ((await host.ref(`adder-${i}`).ask({ type: "step", value })) as { value: number }).value;
      const directMs = performance.now() - t0;
      t0 = performance.now();
      const wid = randomUUID();
      await workflows.run(definition, undefined, { wid });
      const done = await workflows.wait(wid, { pollMs: 5 });
      const workflowMs = performance.now() - t0;
      if (done.status !== "done") throw new Error(`workflow ${wid} ended ${done.status}`);
      if (round === 0) continue; // warm-up
      direct.push((options.steps / directMs) * 1000);
      viaWorkflow.push((options.steps / workflowMs) * 1000);
    }
    log(`direct steps/s: ${direct.map((v) => v.toFixed(0)).join(" ")}; workflow steps/s: ${viaWorkflow.map((v) => v.toFixed(0)).join(" ")}`);
    return {
      values: [valued("hitl", "approval_round_trip_p50", "ms", median(trips))],
      compared: [comparedWith("direct")("hitl", "workflow_step_ratio", "steps/s", median(viaWorkflow), median(direct), { op: ">=", value: 0.8 })],
    };
  } finally {
    for (const close of closers) await close();
    await host.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
};
