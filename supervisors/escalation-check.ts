import { SupervisorStatus, isTetherError } from "../protocols/index.ts";
import type { SupervisionPort } from "./supervision-port.ts";

/** Codes that say the child supervisor cannot answer: it is gone or moving, and a restart is due anyway. */
const UNREACHABLE = new Set(["ERR_ACTOR_NOT_FOUND", "ERR_ASK_TIMEOUT", "ERR_NODE_UNREACHABLE", "ERR_ACTOR_STOPPED", "ERR_ACTOR_FENCED"]);

/**
 * Whether a nested supervisor that a `child_escalated` message names has really escalated. The message
 * can come from anyone on the bus (it crosses nodes), so the parent asks the child itself: it restarts
 * the child only when the child says it escalated, or cannot be reached (its restart is then due anyway).
 * A child that answers with another phase was named by a forged message, which is ignored.
 */
export const confirmEscalated = async (port: SupervisionPort, child: string, timeoutMs = 5_000): Promise<boolean> => {
  try {
    const status = SupervisorStatus.safeParse(await port.ref(child).ask({ type: "tether.supervisor.v1.status" }, { timeoutMs }));
    return status.success && status.data.phase === "escalated";
  } catch (error) {
    return isTetherError(error) && UNREACHABLE.has(error.code);
  }
};
