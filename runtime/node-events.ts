import type { DeadLetterRecord, ErrorCode, RollbackStep } from "../protocols/index.ts";

/** Operator-visible things a node reports. Subscribe with `node.onEvent(listener)`. */
export type NodeEvent =
  | { readonly type: "actor-started"; readonly actorId: string; readonly className: string }
  | { readonly type: "actor-stopped"; readonly actorId: string }
  | { readonly type: "actor-failed"; readonly actorId: string; readonly messageId: string; readonly error: unknown }
  | { readonly type: "dead-letter"; readonly record: DeadLetterRecord }
  | {
      readonly type: "undeliverable";
      /** Id of the refused tell; undefined when the server reported that no actor has the id (it does not echo the message). */
      readonly messageId: string | undefined;
      readonly target: string | undefined;
      readonly code: ErrorCode | string;
      readonly message: string;
    }
  | { readonly type: "transport"; readonly status: string; readonly detail?: string }
  | { readonly type: "node-dead"; readonly nodeId: string; readonly actors: readonly string[] }
  | { readonly type: "actor-failed-over"; readonly actorId: string; readonly from: string; readonly to: string }
  | { readonly type: "actor-passivated" | "actor-revived" | "actor-paused" | "actor-resumed"; readonly actorId: string }
  | { readonly type: "actor-migrated"; readonly actorId: string; readonly from: string; readonly to: string }
  | { readonly type: "actor-fenced"; readonly actorId: string; readonly reason: string }
  | { readonly type: "rollback-step"; readonly workflow: string; readonly step: RollbackStep }
  | { readonly type: "rollback-escalated"; readonly workflow: string; readonly step: RollbackStep }
  | { readonly type: "node-stopping" | "node-stopped"; readonly nodeId: string }
  /** An action or message was blocked by the actor's behavioural profile (also an evidence ECT and a ledger `violation`). */
  | {
      readonly type: "profile-violation";
      readonly actorId: string;
      readonly kind: "action" | "params" | "rate" | "resource" | "peer";
      readonly judged: string;
      readonly response: "block" | "quarantine" | "escalate" | "trust-penalty";
      readonly reason: string;
      /** jti of the evidence ECT. */
      readonly evidence: string | undefined;
    }
  /** A control message (or compensation grant) was refused; also a `violation` record in the audit ledger. */
  | {
      readonly type: "control-refused";
      readonly code: ErrorCode;
      readonly target: string;
      readonly message: string;
      readonly operation?: string;
      readonly kid?: string;
    };

export type NodeEventListener = (event: NodeEvent) => void;
