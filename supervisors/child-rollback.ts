import type { RollbackReport } from "../protocols/index.ts";
import type { SupervisionPort } from "./supervision-port.ts";

/**
 * Compensates what a supervisor's affected children did since they last started (`startedAt`): each of
 * their compensable actions, newest first, and everything those actions caused, across agents and nodes
 * (node.rollback). A rollback that fails is recorded, and the rest goes on: the restart must not wait
 * on it. Returns the reports of the rollbacks that ran.
 */
export const rollBackChildren = async (port: SupervisionPort, supervisorId: string, children: readonly string[], startedAt: (child: string) => number): Promise<RollbackReport[]> => {
  const reports: RollbackReport[] = [];
  for (const child of children) {
    const since = startedAt(child);
    const actions = (await port.listCompensableBy(child)).filter((r) => r.iat >= since && r.outcome === "ok" && r.wid !== undefined).reverse(); // newest first
    for (const action of actions) {
      try {
        reports.push(await port.rollback({ workflow: action.wid as string, from: action.jti }));
      } catch (error) {
        await port.recordEvent("supervisor.rollback_failed", supervisorId, { child, jti: action.jti, error: String(error) }).catch(() => undefined);
      }
    }
  }
  return reports;
};
