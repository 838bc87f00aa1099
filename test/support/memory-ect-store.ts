import type { StoredEctRecord } from "../../runtime/index.ts";
import type { WorkflowRecords } from "../../runtime/internal.ts";

/**
 * An in-memory ECT store for unit tests: what `RollbackCoordinator` reads (`listWorkflow`).
 * Like the KV store it lists a workflow's records by key (`wf.<wid>.<jti>`), so in jti order,
 * not in the order they were minted.
 */
export class MemoryEctStore implements WorkflowRecords {
  readonly #records = new Map<string, StoredEctRecord>();

  put(...records: StoredEctRecord[]): void {
    for (const r of records) this.#records.set(r.jti, r);
  }

  async listWorkflow(wid: string): Promise<StoredEctRecord[]> {
    return [...this.#records.values()].filter((r) => r.wid === wid).sort((a, b) => a.jti.localeCompare(b.jti));
  }
}
