import type { NatsConnection } from "@nats-io/transport-node";
import { TetherError, type NetworkSubjects } from "../../protocols/index.ts";
import { ensureKvBucket } from "../stores/jetstream-provisioning.ts";
import type { QuotaRule } from "./assurance-options.ts";
import type { Clock } from "../support/clock.ts";

export interface QuotaSubject {
  readonly agent: string;
  readonly workflow: string | undefined;
}

/** One counter as the bucket holds it. A deleted key reads as a `DEL`/`PURGE` marker (counted as 0). */
export interface CounterEntry {
  readonly value: Uint8Array;
  readonly revision: number;
  readonly operation: "PUT" | "DEL" | "PURGE";
}

/**
 * The three KV operations quotas use: a JetStream KV bucket in production (`KV` fits as it is), an
 * in-memory map in unit tests. `create` and `update` are compare-and-set: `create` fails if the key
 * exists, `update` if its revision is no longer `revision`.
 */
export interface CounterBucket {
  get(key: string): Promise<CounterEntry | null>;
  create(key: string, value: Uint8Array): Promise<number>;
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SAFE = /[^A-Za-z0-9_-]/g;

/**
 * Cluster-wide quotas in JetStream KV (`tether_<net>_usage`), counted in fixed windows.
 * `reserve` adds the action's declared cost with compare-and-set *before* the action runs and refuses
 * (ERR_QUOTA_EXCEEDED) if that would pass a limit, so a refused action has no effects at all.
 * Units reported during the action (`ctx.meter`) beyond the declared cost are added afterwards.
 */
export class Quotas {
  readonly #kv: CounterBucket;
  readonly #rules: readonly QuotaRule[];
  readonly #clock: Clock;

  /** Quotas over any counter bucket; `open` is the production way in (a JetStream KV bucket). */
  constructor(bucket: CounterBucket, rules: readonly QuotaRule[], options: { clock: Clock }) {
    this.#kv = bucket;
    this.#rules = rules;
    this.#clock = options.clock;
  }

  static async open(nc: NatsConnection, subjects: NetworkSubjects, rules: readonly QuotaRule[], options: { replicas: number; clock: Clock; maxBytes?: number }): Promise<Quotas> {
    const kv = await ensureKvBucket(nc, subjects.usageBucket(), { history: 1, replicas: options.replicas, ...(options.maxBytes === undefined ? {} : { max_bytes: options.maxBytes }) });
    return new Quotas(kv, rules, { clock: options.clock });
  }

  /** Reserves `amounts` (unit → amount) for `subject` under every matching rule, or throws ERR_QUOTA_EXCEEDED. */
  async reserve(subject: QuotaSubject, amounts: Readonly<Record<string, number>>): Promise<void> {
    const done: [string, number][] = [];
    try {
      for (const { key, amount, rule } of this.#counters(subject, amounts)) {
        await this.#add(key, amount, rule.limit, rule);
        done.push([key, amount]);
      }
    } catch (error) {
      for (const [key, amount] of done) await this.#add(key, -amount, Number.POSITIVE_INFINITY, undefined).catch(() => undefined);
      throw error;
    }
  }

  /** Adds usage that was not reserved (reported during the action). Never refuses. */
  async record(subject: QuotaSubject, amounts: Readonly<Record<string, number>>): Promise<void> {
    for (const { key, amount } of this.#counters(subject, amounts)) await this.#add(key, amount, Number.POSITIVE_INFINITY, undefined);
  }

  /** Current usage counted for a rule (for tests and `tether usage`). */
  async current(rule: QuotaRule, subject: QuotaSubject): Promise<number> {
    const key = this.#key(rule, subject);
    if (key === undefined) return 0;
    const entry = await this.#kv.get(key);
    return entry === null || entry.operation !== "PUT" ? 0 : Number(decoder.decode(entry.value));
  }

  /**
   * The counters `amounts` adds to: one per distinct key, held to the strictest rule that watches it.
   * Two rules can share a counter (every agent's tokens per hour, and one agent's): counting the amount
   * once per rule would charge it twice.
   */
  #counters(subject: QuotaSubject, amounts: Readonly<Record<string, number>>): { key: string; amount: number; rule: QuotaRule }[] {
    const counters = new Map<string, { key: string; amount: number; rule: QuotaRule }>();
    for (const rule of this.#rules) {
      const amount = amounts[rule.unit];
      const key = this.#key(rule, subject);
      // `!(amount > 0)` also skips NaN and non-numbers: written into a counter, NaN would never be over its limit again
      if (typeof amount !== "number" || !(amount > 0) || key === undefined) continue;
      const seen = counters.get(key);
      if (seen === undefined || rule.limit < seen.rule.limit) counters.set(key, { key, amount, rule });
    }
    return [...counters.values()];
  }

  #key(rule: QuotaRule, subject: QuotaSubject): string | undefined {
    const id = rule.scope === "agent" ? subject.agent : rule.scope === "workflow" ? subject.workflow : "all";
    if (id === undefined || (rule.id !== undefined && rule.scope === "agent" && rule.id !== subject.agent)) return undefined;
    const window = Math.floor(this.#clock.now() / rule.windowMs);
    return `q.${rule.scope}.${id.replace(SAFE, "_")}.${rule.unit.replace(SAFE, "_")}.${window}`;
  }

  async #add(key: string, amount: number, limit: number, rule: QuotaRule | undefined): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const entry = await this.#kv.get(key);
      const current = entry === null || entry.operation !== "PUT" ? 0 : Number(decoder.decode(entry.value));
      const next = current + amount;
      if (amount > 0 && next > limit) {
        throw new TetherError("ERR_QUOTA_EXCEEDED", `quota exceeded: ${rule?.unit ?? "usage"} per ${rule?.scope ?? "scope"} would reach ${next} (limit ${limit})`, {
          details: { key, current, amount, limit },
        });
      }
      try {
        if (entry === null) await this.#kv.create(key, encoder.encode(String(next)));
        else await this.#kv.update(key, encoder.encode(String(next)), entry.revision);
        return;
      } catch {
        // lost a compare-and-set race: read again
      }
    }
    throw new TetherError("ERR_QUOTA_STORE_FAILED", `quota counter ${key} kept changing; try again`);
  }
}
