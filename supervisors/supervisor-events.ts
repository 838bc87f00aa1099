import type { RollbackReport } from "../protocols/index.ts";
import type { ExitReason } from "./restart-plan.ts";

/** What a supervisor reports, on the node that hosts it (`SupervisionHost.onEvent`, `supervisor.onEvent`). */
export type SupervisorEvent =
  | { readonly type: "child-failed"; readonly supervisor: string; readonly child: string; readonly reason: ExitReason }
  | { readonly type: "children-restarted"; readonly supervisor: string; readonly children: readonly string[]; readonly delayMs: number }
  | { readonly type: "escalated"; readonly supervisor: string; readonly child: string }
  /** onFailure "rollback": the failed children's completed actions were compensated (or the rollback escalated). */
  | { readonly type: "rolled-back"; readonly supervisor: string; readonly children: readonly string[]; readonly reports: readonly RollbackReport[] }
  /** Operator-visible: a root supervisor exceeded its restart intensity and stopped its whole subtree. */
  | { readonly type: "gave-up"; readonly supervisor: string; readonly child: string }
  /** The supervisor came back on this node after its node died (or it was moved) and re-attached to its children. */
  | { readonly type: "took-over"; readonly supervisor: string; readonly kept: readonly string[]; readonly lost: readonly string[] };
