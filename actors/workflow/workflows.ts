import { randomUUID } from "node:crypto";
import { TetherError, WorkflowStatus, hasCode, validateWorkflow, workflowActorId, type WorkflowDefinitionInput } from "../../protocols/index.ts";
import type { ApprovalPort, Node } from "../../runtime/index.ts";
import { WorkflowActor } from "./workflow-actor.ts";
import { workflowPort } from "./workflow-port.ts";

const TERMINAL = new Set(["done", "failed", "rolled_back"]);

/**
 * Workflows over one node: `register` lets the node host workflow actors (and take them over when
 * their node dies); `run` validates a definition, starts its actor here and returns its first status;
 * `status` and `wait` read it wherever it runs.
 */
export class Workflows {
  readonly #node: Node;
  readonly #approvals: ApprovalPort | undefined;

  private constructor(node: Node, approvals: ApprovalPort | undefined) {
    this.#node = node;
    this.#approvals = approvals;
  }

  static register(node: Node, options: { approvals?: ApprovalPort } = {}): Workflows {
    node.registerType(WorkflowActor, { args: [{ port: workflowPort(node, options.approvals) }] });
    return new Workflows(node, options.approvals);
  }

  /** A client that reads workflows but hosts none (the CLI's short-lived node). */
  static client(node: Node): Workflows {
    return new Workflows(node, undefined);
  }

  async run(definition: WorkflowDefinitionInput | unknown, input?: unknown, options: { wid?: string } = {}): Promise<WorkflowStatus> {
    validateWorkflow(definition); // fail fast, before anything is spawned
    const wid = options.wid ?? randomUUID();
    const id = workflowActorId(wid);
    try {
      await this.#node.spawn(id, WorkflowActor, { args: [{ port: workflowPort(this.#node, this.#approvals) }], restore: true });
    } catch (error) {
      if (!hasCode(error, "ERR_ACTOR_ALREADY_ACTIVE")) throw error;
    }
    return WorkflowStatus.parse(await this.#node.ref(id).ask({ type: "tether.workflow.v1.start", wid, definition, ...(input === undefined ? {} : { input }) }));
  }

  async status(wid: string, timeoutMs = 5_000): Promise<WorkflowStatus> {
    try {
      return WorkflowStatus.parse(await this.#node.ref(workflowActorId(wid)).ask({ type: "tether.workflow.v1.status" }, { timeoutMs }));
    } catch (error) {
      if (hasCode(error, "ERR_ACTOR_NOT_FOUND")) throw new TetherError("ERR_WORKFLOW_NOT_FOUND", `no workflow ${wid} is running`, { cause: error });
      throw error;
    }
  }

  /**
   * Resolves once the workflow is done, failed or rolled back. Without `onStatus` the workflow actor
   * answers when it ends (no polling); with it, the status is polled every `pollMs` and `onStatus`
   * sees every read (a live progress display). Both carry on through a failover.
   */
  async wait(wid: string, options: { timeoutMs?: number; pollMs?: number; onStatus?: (s: WorkflowStatus) => void } = {}): Promise<WorkflowStatus> {
    const deadline = Date.now() + (options.timeoutMs ?? 300_000);
    if (options.onStatus === undefined) return this.#awaitEnd(wid, deadline, options.pollMs ?? 100);
    for (;;) {
      const status = await this.status(wid).catch((error: unknown) => {
        if (Date.now() > deadline) throw error;
        return undefined;
      });
      if (status !== undefined) {
        options.onStatus?.(status);
        if (TERMINAL.has(status.status)) return status;
      }
      if (Date.now() > deadline) throw new TetherError("ERR_ASK_TIMEOUT", `workflow ${wid} did not finish in time`);
      await new Promise((r) => setTimeout(r, options.pollMs ?? 100));
    }
  }

  /** Asks the workflow actor to answer when it ends; asks again (after `retryMs`) when it moved, stopped or is failing over. */
  async #awaitEnd(wid: string, deadline: number, retryMs: number): Promise<WorkflowStatus> {
    const ref = this.#node.ref(workflowActorId(wid));
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new TetherError("ERR_ASK_TIMEOUT", `workflow ${wid} did not finish in time`);
      try {
        return WorkflowStatus.parse(await ref.ask({ type: "tether.workflow.v1.await" }, { timeoutMs: Math.min(left, 10_000) }));
      } catch (error) {
        if (!hasCode(error, "ERR_ASK_TIMEOUT") && !hasCode(error, "ERR_ACTOR_NOT_FOUND") && !hasCode(error, "ERR_ACTOR_STOPPED") && !hasCode(error, "ERR_ACTOR_FENCED")) throw error;
        if (Date.now() >= deadline) {
          if (hasCode(error, "ERR_ACTOR_NOT_FOUND")) throw new TetherError("ERR_WORKFLOW_NOT_FOUND", `no workflow ${wid} is running`, { cause: error });
          throw new TetherError("ERR_ASK_TIMEOUT", `workflow ${wid} did not finish in time`, { cause: error });
        }
        await new Promise((r) => setTimeout(r, retryMs));
      }
    }
  }
}
