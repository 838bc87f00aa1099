import { createHash } from "node:crypto";
import { TETHER_EXT_PREFIX } from "../../protocols/index.ts";
import type { LedgerClient } from "./ledger-client.ts";
import type { Logger } from "../support/logger.ts";
import { mintEvidenceRecord, type EvidenceDeps } from "./evidence-record.ts";

/** The ECT node types of the override plane (`exec_act`, seed 03's new node type). */
export const OVERRIDE_SIGNAL_ACT = "tether.override.signal";
export const OVERRIDE_ACK_ACT = "tether.override.ack";
/** What both start with (the rollback coordinator leaves them out: they undo nothing). */
export const OVERRIDE_ACT_PREFIX = "tether.override.";

/**
 * The jti of an override signal's ECT: a name-based UUID (version 5 layout, SHA-256) of the signal's id,
 * so every node's acknowledgements can name it as their parent without asking anyone.
 */
export const overrideSignalJti = (overrideId: string): string => {
  const b = createHash("sha256").update(`${OVERRIDE_SIGNAL_ACT}:${overrideId}`).digest().subarray(0, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x50;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

export interface OverrideEvidenceDeps extends EvidenceDeps {
  readonly ledger: Pick<LedgerClient, "append">;
  readonly logger: Logger;
}

/** One override ECT: a signal (minted once, by the override actor) or an actor's acknowledgement. */
export interface OverrideEvidence {
  readonly act: typeof OVERRIDE_SIGNAL_ACT | typeof OVERRIDE_ACK_ACT;
  /** The actor the ECT speaks for (`iss`): the override actor for a signal, the acknowledging actor for an ack. */
  readonly actorId: string;
  /** Default: a random uuid. */
  readonly jti?: string;
  readonly parents: readonly string[];
  readonly wid: string | undefined;
  /** Hashed into `inp_hash` (the signal, or the acknowledgement). */
  readonly input: unknown;
  /** Carried under the `tether.` ext prefix as `override`. */
  readonly details: Record<string, unknown>;
}

/**
 * Mints an override signal's or acknowledgement's ECT (signed with the node's key, as a profile
 * violation's evidence is), stores it in the node's ECT DAG store and appends it to the audit ledger.
 * Resolves with its jti; a ledger that cannot take it is logged, not thrown (the existing ledger
 * events still record the override).
 */
export const mintOverrideEct = async (deps: OverrideEvidenceDeps, e: OverrideEvidence): Promise<string> => {
  const { jti, token } = await mintEvidenceRecord(deps, {
    actorId: e.actorId,
    act: e.act,
    par: [...new Set(e.parents)],
    wid: e.wid,
    input: e.input,
    outcome: "ok",
    ext: { [`${TETHER_EXT_PREFIX}override`]: e.details },
    ...(e.jti === undefined ? {} : { jti: e.jti }),
  });
  try {
    await deps.ledger.append({ kind: "ect", token, level: deps.level });
  } catch (error) {
    deps.logger.warn("override ECT not appended to the ledger", { jti, act: e.act, error });
  }
  return jti;
};
