import { createHash } from "node:crypto";
import { hasCode } from "../../protocols/index.ts";
import type { ControlSigner, Node } from "../../runtime/index.ts";
import { OverrideClient } from "../override/override-client.ts";

/** How the trust actor quarantines an agent (a port: tests and other planes can take it over). */
export interface QuarantinePort {
  /** Scores below this quarantine the agent (once per fall below it). */
  readonly threshold: number;
  /** Pauses `agent` network-wide; resolves with the acknowledgement count when the override plane answered. */
  issue(q: { agent: string; overrideId: string; reason: string }): Promise<{ acked: number | null; expected: number | null }>;
}

export interface QuarantineOptions {
  /** Quarantine when an agent's score falls below this (0..1). */
  readonly threshold: number;
  /**
   * The identity the pause is issued under: a key whose role may pause (`operator`, `admin` or
   * `owner`; machine keys may not issue overrides), e.g. a `trust-supervisor` operator key the
   * network's owner published for this purpose. Its holder is named in every pause it issues.
   */
  readonly signer: ControlSigner;
  /** How long to wait for acknowledgements (default 5 s; a missing one escalates like any override). */
  readonly ackDeadlineMs?: number;
}

/** The override id of an agent's `n`th quarantine: fixed, so a retry after a crash cannot pause twice. */
export const quarantineOverrideId = (agent: string, n: number): string => `tq-${createHash("sha256").update(agent).digest("hex").slice(0, 20)}-${n}`;

/**
 * Quarantine through the override plane: a `pause` override scoped to the agent, signed by the
 * configured identity, persisted, broadcast, acknowledged per actor and recorded like any override
 * (docs/override.md). An operator lifts it (`tether overrides lift <id>` or `tether resume --agent`).
 */
export const overrideQuarantine = (node: Node, options: QuarantineOptions): QuarantinePort => {
  const client = new OverrideClient({ nc: node.nats, signer: options.signer });
  return {
    threshold: options.threshold,
    issue: async ({ agent, overrideId, reason }) => {
      try {
        const out = await client.issue({ action: "pause", scope: { kind: "agent", id: agent }, reason: reason.slice(0, 1024), id: overrideId, ...(options.ackDeadlineMs === undefined ? {} : { ackDeadlineMs: options.ackDeadlineMs }) });
        return { acked: out.coverage.acked.size, expected: out.coverage.expected?.length ?? null };
      } catch (error) {
        // issued before a crash of the trust actor: the override actor holds it already
        if (hasCode(error, "ERR_OVERRIDE_INVALID") && String((error as Error).message).includes("already active")) return { acked: null, expected: null };
        throw error;
      }
    },
  };
};
