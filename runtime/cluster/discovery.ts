import { TetherError, compareVersions, isLeaseAlive, type ActorRecord } from "../../protocols/index.ts";
import type { BreakerBoard } from "../stores/breaker-board.ts";
import type { Registry } from "../stores/registry.ts";
import type { Clock } from "../support/clock.ts";

import type { CapabilityQuery, TrustScorer } from "../actor/actor-types.ts";

export type { TrustScorer };

/** One live provider of a capability, as `find` returns it. */
export interface Provider {
  readonly actorId: string;
  readonly nodeId: string;
  readonly className: string;
  /** Message-schema versions it advertises for the capability (empty when it only names it). */
  readonly versions: readonly string[];
  /** Its trust score, when a scorer was given. */
  readonly trust?: number;
}

/** Which providers qualify (the same query `ctx.refByCapability` takes). */
export type FindOptions = CapabilityQuery;

export interface DiscoveryDeps {
  readonly registry: Registry;
  readonly clock: Clock;
  readonly breakers: () => Promise<BreakerBoard>;
  readonly random: () => number;
}

/**
 * The highest version of `protocol` both sides offer; ERR_VERSION_NEGOTIATION_FAILED naming both
 * offers when they share none. Versions compare numerically ("1.10" > "1.9", "1" = "1.0").
 */
export const negotiate = (protocol: string, local: readonly string[], remote: readonly string[], sides: { local?: string; remote?: string } = {}): string => {
  const common = local.filter((l) => remote.some((r) => compareVersions(l, r) === 0));
  const best = common.sort(compareVersions).at(-1);
  if (best !== undefined) return best;
  const l = sides.local ?? "local";
  const r = sides.remote ?? "remote";
  throw new TetherError(
    "ERR_VERSION_NEGOTIATION_FAILED",
    `no common version of protocol ${protocol}: ${l} offers [${local.join(", ")}], ${r} offers [${remote.join(", ")}]`,
    { details: { protocol, local: l, localOffers: [...local], remote: r, remoteOffers: [...remote] } },
  );
};

/** Providers by trust, highest first (unscored ones last), then by id so the order is stable. */
export const rankProviders = (providers: readonly Provider[]): Provider[] =>
  [...providers].sort((a, b) => (b.trust ?? -1) - (a.trust ?? -1) || (a.actorId < b.actorId ? -1 : a.actorId > b.actorId ? 1 : 0));

/**
 * A trust-weighted random choice (weight = trust; unscored providers weigh 1). `random` returns [0, 1).
 * When every weight is 0 it falls back to the first (best-ranked) provider.
 */
export const pickWeighted = (providers: readonly Provider[], random: () => number): Provider | undefined => {
  if (providers.length === 0) return undefined;
  const weights = providers.map((p) => Math.max(0, p.trust ?? 1));
  const total = weights.reduce((a, b) => a + b, 0);
  if (total <= 0) return providers[0];
  let x = random() * total;
  for (let i = 0; i < providers.length; i++) {
    x -= weights[i] ?? 0;
    if (x < 0) return providers[i];
  }
  return providers.at(-1);
};

/** Negotiates `protocol` between two agents from their advertisements in the registry (an unregistered agent offers nothing). */
export const negotiateAgents = async (registry: Pick<Registry, "getActor">, localId: string, peerId: string, protocol: string): Promise<string> => {
  const [local, remote] = await Promise.all([registry.getActor(localId), registry.getActor(peerId)]);
  return negotiate(protocol, local?.advertise?.protocols[protocol] ?? [], remote?.advertise?.protocols[protocol] ?? [], { local: localId, remote: peerId });
};

const noProvider = (capability: string, reason: string, details: Record<string, unknown> = {}): TetherError =>
  new TetherError("ERR_NO_PROVIDER", `no provider of capability ${capability}: ${reason}`, { details: { capability, reason, ...details } });

const versionsOf = (record: ActorRecord, capability: string): string[] => record.advertise?.capabilities.find((c) => c.name === capability)?.versions ?? [];

/**
 * Capability discovery over the registry: who provides what, alive now (owner's lease alive at the
 * claim's epoch), filtered by version and trust, and a pick that skips providers whose shared breaker
 * is open. Negotiation reads both agents' advertised protocol versions from the registry.
 */
export class Discovery {
  readonly #d: DiscoveryDeps;

  constructor(deps: DiscoveryDeps) {
    this.#d = deps;
  }

  async find(capability: string, options: FindOptions = {}): Promise<Provider[]> {
    if (options.minTrust !== undefined && options.trust === undefined) {
      throw new TetherError("ERR_CONFIG_INVALID", `find(${capability}): minTrust needs a trust scorer (options.trust)`);
    }
    const [actors, nodes] = await Promise.all([this.#d.registry.listActors(), this.#d.registry.listNodes()]);
    const now = this.#d.clock.now();
    const live = new Map(nodes.filter((n) => isLeaseAlive(n, now)).map((n) => [n.nodeId, n.epoch]));
    const out: Provider[] = [];
    for (const record of actors) {
      if (!record.capabilities.includes(capability)) continue;
      if (live.get(record.nodeId) !== record.nodeEpoch) continue;
      const versions = versionsOf(record, capability);
      const wanted = options.version;
      if (wanted !== undefined && !versions.some((v) => compareVersions(v, wanted) === 0)) continue;
      const base = { actorId: record.actorId, nodeId: record.nodeId, className: record.className, versions };
      if (options.trust === undefined) {
        out.push(base);
        continue;
      }
      const trust = await options.trust(record.actorId);
      if (options.minTrust !== undefined && !(trust >= options.minTrust)) continue;
      out.push({ ...base, trust });
    }
    return rankProviders(out);
  }

  /** One provider: trust-weighted among those that qualify and whose breaker is not open; ERR_NO_PROVIDER otherwise. */
  async pick(capability: string, options: FindOptions = {}): Promise<Provider> {
    const found = await this.find(capability, options);
    if (found.length === 0) throw noProvider(capability, "none is alive and qualifies", { version: options.version, minTrust: options.minTrust });
    const board = await this.#d.breakers();
    const now = this.#d.clock.now();
    const healthy: Provider[] = [];
    const open: string[] = [];
    for (const p of found) {
      const b = await board.get(p.actorId);
      if (b?.state === "open" && (b.openUntil === null || now < b.openUntil)) open.push(p.actorId);
      else healthy.push(p);
    }
    const chosen = pickWeighted(healthy, this.#d.random);
    if (chosen === undefined) throw noProvider(capability, "every qualifying provider's breaker is open", { open });
    return chosen;
  }

  /**
   * The highest common version of `protocol` between two agents' advertisements in the registry.
   * An agent that is not registered offers nothing.
   */
  negotiate(localId: string, peerId: string, protocol: string): Promise<string> {
    return negotiateAgents(this.#d.registry, localId, peerId, protocol);
  }
}
