import { TETHER_EXT_PREFIX, decodeEctUnverified } from "../../protocols/index.ts";

export const UsageGrouping = { agent: "agent", workflow: "workflow", network: "network" } as const;
export type UsageGrouping = (typeof UsageGrouping)[keyof typeof UsageGrouping];

export interface UsageRow {
  readonly key: string;
  actions: number;
  failed: number;
  refused: number;
  wallMs: number;
  cpuUs: number;
  messages: number;
  bytes: number;
  readonly units: Record<string, number>;
}

/**
 * Rolls up the usage Tether records in each ECT (`ext["dev.tether.usage"]`) by agent (the `iss`),
 * workflow (`wid`) or network. Tokens are decoded, not verified: verify the ledger first.
 */
export const rollUpUsage = (tokens: Iterable<{ readonly token: string; readonly network: string }>, by: UsageGrouping): UsageRow[] => {
  const rows = new Map<string, UsageRow>();
  for (const { token, network } of tokens) {
    let claims: Record<string, unknown>;
    try {
      claims = decodeEctUnverified(token).claims;
    } catch {
      continue;
    }
    const ext = (claims["ext"] ?? claims["ect_ext"] ?? {}) as Record<string, unknown>;
    const usage = (ext[`${TETHER_EXT_PREFIX}usage`] ?? {}) as Record<string, unknown>;
    const iss = String(claims["iss"] ?? "");
    const key = by === "agent" ? iss.slice(iss.lastIndexOf("/") + 1) || iss : by === "workflow" ? String(claims["wid"] ?? "(none)") : network;
    const row = rows.get(key) ?? { key, actions: 0, failed: 0, refused: 0, wallMs: 0, cpuUs: 0, messages: 0, bytes: 0, units: {} };
    row.actions++;
    const outcome = ext[`${TETHER_EXT_PREFIX}outcome`];
    if (outcome === "failed") row.failed++;
    if (outcome === "refused") row.refused++;
    row.wallMs += num(usage["wallMs"]);
    row.cpuUs += num(usage["cpuUs"]);
    row.messages += num(usage["messages"]);
    row.bytes += num(usage["bytes"]);
    for (const [unit, amount] of Object.entries((usage["units"] ?? {}) as Record<string, unknown>)) row.units[unit] = (row.units[unit] ?? 0) + num(amount);
    rows.set(key, row);
  }
  return [...rows.values()].sort((a, b) => a.key.localeCompare(b.key));
};

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);
