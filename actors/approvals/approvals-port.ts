import { type ReplayCache, type VerifiedControl } from "../../protocols/index.ts";
import { verifySignedFor } from "../verify-signed.ts";
import type { Clock, Node } from "../../runtime/index.ts";
import { mintActorEct, type ActorEct, type MintedEct } from "../ect-minter.ts";

export type { MintedEct };

/** What the approvals actor needs from the node hosting it (`approvalsPort(node)` builds it). */
export interface ApprovalsPort {
  readonly network: string;
  /** The clock approval deadlines run on (the node's unless a test passes a fake one). */
  readonly clock: Clock;
  /** Verifies a signed decision addressed to the approvals actor `target` (signature, key, time, role may `approve`, nonce). */
  verify(input: unknown, target: string, replay: ReplayCache): Promise<VerifiedControl>;
  /** Mints and stores an ECT issued by the approvals actor. */
  mint(p: ActorEct): Promise<MintedEct>;
  /** Tells an actor a message from outside any handler (the deadline timer's tick). */
  tell(actorId: string, msg: unknown): void;
  /** Appends an event to the audit ledger (and logs when it cannot). */
  record(event: string, subject: string, details: Record<string, unknown>): Promise<void>;
}

/** The port over a node: its key registry verifies, its signing key mints, its ledger records. */
export const approvalsPort = (node: Node, clock: Clock = node.clock): ApprovalsPort => ({
  network: node.network,
  clock,
  verify: (input, target, replay) => verifySignedFor(node, input, target, replay, "tether.approval.v1.decision", "approvals actor"),
  mint: (p) => mintActorEct(node, p),
  tell: (actorId, msg) => {
    node.ref(actorId).tell(msg);
  },
  record: async (event, subject, details) => {
    await node.assurance.recordEvent(event, subject, details).catch(() => undefined);
  },
});
