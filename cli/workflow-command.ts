import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { Workflows } from "../actors/index.ts";
import { TetherError, hasCode, validateWorkflow, workflowActorId, type WorkflowStatus } from "../protocols/index.ts";
import type { Node } from "../runtime/index.ts";
import { withClientNode } from "./client-node.ts";
import { natsOption } from "./nats-option.ts";
import { examples, printOne } from "./output.ts";

interface WorkflowFlags {
  nats: string;
  network: string;
  json?: boolean;
}

const MARK: Record<string, string> = { pending: "·", running: "▶", done: "✓", failed: "✗", rolled_back: "↺" };

/** The DAG with states, one line per step in topological order: state, id, what it waits for, attempts, error. */
export const renderWorkflow = (s: WorkflowStatus): string => {
  const lines = [`workflow ${s.name} (${s.wid}): ${s.status}`];
  for (const id of s.order) {
    const step = s.steps[id];
    const deps = s.dependsOn[id] ?? [];
    lines.push(
      `  ${MARK[step?.state ?? "pending"] ?? "?"} ${id.padEnd(16)} ${(step?.state ?? "?").padEnd(11)} ${deps.length === 0 ? "(root)" : `← ${deps.join(", ")}`}${(step?.attempts ?? 0) > 1 ? `  attempts ${step?.attempts}` : ""}${step?.error === undefined ? "" : `  ${step.error.code}: ${step.error.message}`}`,
    );
  }
  return `${lines.join("\n")}\n`;
};

/** Activates the workflow actor on the first live node that can host it (one that registered WorkflowActor). */
const place = async (node: Node, actorId: string): Promise<string> => {
  const nodes = (await node.listNodes()).filter((n) => n.nodeId !== node.id && !n.nodeId.startsWith("cli-"));
  let last: unknown;
  for (const candidate of nodes) {
    if (!(await node.isNodeAlive(candidate.nodeId))) continue;
    try {
      await node.controlNode(candidate.nodeId, { type: "tether.node.v1.activate", actorId, className: "WorkflowActor" });
      return candidate.nodeId;
    } catch (error) {
      if (hasCode(error, "ERR_ACTOR_ALREADY_ACTIVE")) return candidate.nodeId;
      last = error;
    }
  }
  throw new TetherError("ERR_NODE_UNREACHABLE", "no live node can host a workflow (start one with `tether node start`)", { cause: last });
};

/** `tether workflow run <file>` with live progress, `tether workflow status <wid>` with the DAG and its states. */
export const registerWorkflowCommand = (program: Command): void => {
  const workflow = examples(program.command("workflow").description("durable DAG workflows"), "tether workflow run examples/workflow.json", "tether workflow status 0b7c…");
  const common = (c: Command) => c.addOption(natsOption()).option("--network <name>", "network name", "default").option("--json", "print statuses as JSON lines");

  common(
    examples(
      workflow.command("run").argument("<file>", "workflow definition (JSON)").description("validate and start a workflow, then show its progress until it ends (exit 1 unless done)"),
      "tether workflow run order.json --input '{\"patient\":\"p-1\"}'",
    ),
  )
    .option("--input <json>", "the workflow input (JSON)")
    .option("--no-follow", "print the workflow id and return at once")
    .action((file: string, flags: WorkflowFlags & { input?: string; follow: boolean }) =>
      withClientNode(flags, async (node) => {
        let definition: unknown;
        try {
          definition = JSON.parse(readFileSync(file, "utf8")) as unknown;
        } catch (cause) {
          throw new TetherError("ERR_WORKFLOW_INVALID", `${file}: not a readable JSON file (${String(cause)})`, { cause });
        }
        validateWorkflow(definition);
        const input = flags.input === undefined ? undefined : (JSON.parse(flags.input) as unknown);
        const wid = randomUUID();
        const host = await place(node, workflowActorId(wid));
        await node.ref(workflowActorId(wid)).ask({ type: "tether.workflow.v1.start", wid, definition, ...(input === undefined ? {} : { input }) });
        process.stdout.write(flags.json === true ? `${JSON.stringify({ wid, node: host })}\n` : `workflow ${wid} started on ${host}\n`);
        if (!flags.follow) return;
        const seen = new Map<string, string>();
        const final = await Workflows.client(node).wait(wid, {
          pollMs: 200,
          onStatus: (s) => {
            for (const id of s.order) {
              const state = s.steps[id]?.state ?? "pending";
              if (seen.get(id) === state) continue;
              seen.set(id, state);
              if (state !== "pending") process.stdout.write(flags.json === true ? `${JSON.stringify({ step: id, state })}\n` : `  ${MARK[state] ?? "?"} ${id} ${state}\n`);
            }
          },
        });
        printOne(flags.json, final, renderWorkflow);
        if (final.status !== "done") process.exitCode = 1;
      }),
    );

  common(examples(workflow.command("status").argument("<wid>", "workflow id").description("the workflow's DAG with each step's state"), "tether workflow status 0b7c…")).action(
    (wid: string, flags: WorkflowFlags) =>
      withClientNode(flags, async (node) => {
        const status = await Workflows.client(node).status(wid);
        printOne(flags.json, status, renderWorkflow);
      }),
  );
};
