import { TetherError } from "../../protocols/index.ts";
import type { ApprovalPort, Clock, Node } from "../../runtime/index.ts";
import { mintActorEct, type ActorEct, type MintedEct } from "../ect-minter.ts";

/** What a workflow actor needs from the node hosting it (`workflowPort(node)` builds it). */
export interface WorkflowPort {
  readonly clock: Clock;
  ask(actorId: string, msg: unknown, timeoutMs: number): Promise<unknown>;
  tell(actorId: string, msg: unknown): void;
  /** A live actor advertising `capability`, if any. */
  findCapability(capability: string): Promise<string | undefined>;
  mint(p: ActorEct): Promise<MintedEct>;
  /** Runs `work` as a span. */
  traced<T>(name: string, attributes: Record<string, string | number | boolean>, work: () => Promise<T>): Promise<T>;
  /** Approval gates on steps (absent: a step with a gate fails with ERR_CONFIG_INVALID). */
  readonly approvals: ApprovalPort | undefined;
}

export const workflowPort = (node: Node, approvals?: ApprovalPort): WorkflowPort => ({
  clock: node.clock,
  ask: (actorId, msg, timeoutMs) => node.ref(actorId).ask(msg, { timeoutMs }),
  tell: (actorId, msg) => {
    node.ref(actorId).tell(msg);
  },
  findCapability: async (capability) => {
    const records = await node.listActors();
    for (const r of records) if (r.capabilities.includes(capability) && (await node.isNodeAlive(r.nodeId))) return r.actorId;
    return undefined;
  },
  mint: (p) => mintActorEct(node, p),
  traced: (name, attributes, work) => node.traced(name, attributes, work),
  approvals,
});

export const noApprovals = (): TetherError => new TetherError("ERR_CONFIG_INVALID", "this workflow has a gated step, but the workflow actor was registered without approvals");
