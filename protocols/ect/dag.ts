import { callPort, echo, ectError } from "./ect-errors.ts";
import type { EctStore, StoredEct } from "./ect-store.ts";

export interface ParentCheckOptions {
  /** No store means no parent can be found (every parent counts as missing). */
  readonly store: EctStore | undefined;
  /** Relaxed profile: report missing parents instead of rejecting. */
  readonly allowMissingParents: boolean;
  readonly clockSkewSeconds: number;
  /** Ancestor nodes the acyclicity check may visit (direct parents included). */
  readonly maxAncestors: number;
}

/** Store lookups in flight at once during the ancestor walk. */
const LOOKUP_BATCH = 64;

const isStoredEct = (value: unknown): value is StoredEct => {
  if (typeof value !== "object" || value === null) return false;
  const record = value as { iat?: unknown; par?: unknown };
  return (
    typeof record.iat === "number" &&
    Number.isFinite(record.iat) &&
    Array.isArray(record.par) &&
    record.par.every((p) => typeof p === "string")
  );
};

const lookup = async (store: EctStore | undefined, jti: string): Promise<StoredEct | undefined> => {
  if (store === undefined) return undefined;
  const record = await callPort("ERR_ECT_PARENT_MISSING", "the ECT store lookup", () => store.get(jti));
  if (record === undefined) return undefined;
  if (!isStoredEct(record)) {
    throw ectError("ERR_ECT_PARENT_MISSING", "the ECT store returned an invalid record", {
      reason: "invalid record",
      parent: echo(jti),
    });
  }
  return record;
};

const lookupAll = async (store: EctStore | undefined, ids: readonly string[]): Promise<Array<[string, StoredEct | undefined]>> => {
  const out: Array<[string, StoredEct | undefined]> = [];
  for (let i = 0; i < ids.length; i += LOOKUP_BATCH) {
    const batch = ids.slice(i, i + LOOKUP_BATCH);
    const records = await Promise.all(batch.map((id) => lookup(store, id)));
    batch.forEach((id, j) => out.push([id, records[j]]));
  }
  return out;
};

const cycle = (message: string, details: Record<string, unknown>) => ectError("ERR_ECT_CYCLE", message, details);

/**
 * Step 6: breadth-first walk up from the parents. Fails when the child's `jti` is reachable
 * (the new edge would close a cycle), when an ancestor lists itself as its own parent, or when
 * more than `maxAncestors` distinct nodes would be visited (a graph that large cannot be shown
 * acyclic within the bound, so it is refused rather than accepted unchecked). Ancestors missing
 * from the store end their branch: only direct parents must exist (step 4).
 */
const assertAcyclic = async (child: StoredEct, parents: ReadonlyMap<string, StoredEct>, options: ParentCheckOptions) => {
  const visited = new Set<string>(parents.keys());
  const overBound = () =>
    cycle(`the ancestor walk of ECT ${child.jti} exceeded ${options.maxAncestors} nodes; the DAG is refused as possibly cyclic`, {
      jti: child.jti,
      limit: options.maxAncestors,
      reason: "traversal bound exceeded",
    });
  if (visited.size > options.maxAncestors) throw overBound();
  let frontier: Array<[string, StoredEct]> = [...parents];
  while (frontier.length > 0) {
    const toFetch: string[] = [];
    for (const [id, node] of frontier) {
      for (const parent of node.par) {
        if (parent === id) {
          throw cycle(`ECT ${echo(id)} lists itself as its own parent`, { jti: child.jti, node: echo(id), reason: "self parent" });
        }
        if (parent === child.jti) {
          throw cycle(`ECT ${child.jti} is its own ancestor (reached through ${echo(id)})`, {
            jti: child.jti,
            via: echo(id),
            reason: "child reachable from its parents",
          });
        }
        if (visited.has(parent)) continue;
        visited.add(parent);
        if (visited.size > options.maxAncestors) throw overBound();
        toFetch.push(parent);
      }
    }
    frontier = [];
    for (const [id, record] of await lookupAll(options.store, toFetch)) {
      if (record !== undefined) frontier.push([id, record]);
    }
  }
};

/**
 * Validation steps 4-6 for a child whose claims are already valid: parents exist, are not newer
 * than the child beyond the skew, and the graph stays acyclic. Returns the parents that were
 * missing (always empty unless `allowMissingParents`).
 * *Tether*: a child listing its own `jti` in `par` is reported as ERR_ECT_CYCLE before the store
 * is asked (it is a cycle whatever the store holds, and "parent missing" would mislead).
 */
export const checkParents = async (child: StoredEct, options: ParentCheckOptions): Promise<string[]> => {
  if (child.par.length === 0) return [];
  if (child.par.includes(child.jti)) {
    throw cycle(`ECT ${child.jti} lists itself as its own parent`, { jti: child.jti, reason: "self parent" });
  }

  // 4. Every parent exists.
  const found = new Map<string, StoredEct>();
  const missing: string[] = [];
  for (const [id, record] of await lookupAll(options.store, child.par)) {
    if (record === undefined) missing.push(id);
    else found.set(id, record);
  }
  if (missing.length > 0 && !options.allowMissingParents) {
    const listed = missing.slice(0, 5).join(", ");
    throw ectError("ERR_ECT_PARENT_MISSING", `ECT ${child.jti} names ${missing.length} parent(s) not in the ECT store: ${listed}`, {
      jti: child.jti,
      missing,
      storeConfigured: options.store !== undefined,
    });
  }

  // 5. Temporal order: no parent issued after the child (beyond the skew).
  for (const [id, parent] of found) {
    if (parent.iat > child.iat + options.clockSkewSeconds) {
      const message = `parent ${id} (iat ${parent.iat}) is newer than ECT ${child.jti} (iat ${child.iat}) beyond the ${options.clockSkewSeconds} s skew`;
      throw ectError("ERR_ECT_PARENT_NEWER", message, {
        jti: child.jti,
        parent: id,
        parentIat: parent.iat,
        childIat: child.iat,
        skewSeconds: options.clockSkewSeconds,
      });
    }
  }

  // 6. Acyclic.
  await assertAcyclic(child, found, options);
  return missing;
};
