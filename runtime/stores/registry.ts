import { hostname } from "node:os";
import type { NatsConnection } from "@nats-io/transport-node";
import type { KV } from "@nats-io/kv";
import {
  ActorRecord,
  NodeRecord,
  TetherError,
  isLeaseAlive,
  registryKeys,
  type NetworkSubjects,
} from "../../protocols/index.ts";
import type { Clock } from "../support/clock.ts";
import { ensureKvBucket } from "./jetstream-provisioning.ts";

export interface RegistryOptions {
  readonly replicas: number;
  readonly clock: Clock;
  readonly timeoutMs?: number;
  /** Explicit bucket size limit (reserved on every replica). */
  readonly maxBytes?: number;
}

/** An actor claim this node holds: the KV revision is needed to release it safely (compare-and-set). */
export interface Claim {
  readonly record: ActorRecord;
  readonly revision: number;
}

const encoder = new TextEncoder();
const encode = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));

/**
 * Actor ownership and node leases in a JetStream KV bucket. Single activation comes from the bucket's
 * compare-and-set: a claim is `create` (fails if the key exists) or, over a dead owner's stale claim,
 * `update` at the revision that was read. Leases are per node (one heartbeat write per node, not per
 * actor); an actor claim is live while its owner node's lease is alive with the same epoch.
 */
export class Registry {
  readonly #kv: KV;
  readonly #clock: Clock;

  private constructor(kv: KV, clock: Clock) {
    this.#kv = kv;
    this.#clock = clock;
  }

  static async open(nc: NatsConnection, subjects: NetworkSubjects, options: RegistryOptions): Promise<Registry> {
    const kv = await ensureKvBucket(
      nc,
      subjects.registryBucket(),
      { history: 1, replicas: options.replicas, ...(options.maxBytes === undefined ? {} : { max_bytes: options.maxBytes }) },
      { timeoutMs: options.timeoutMs ?? 10_000 },
    );
    return new Registry(kv, options.clock);
  }

  /** Registers (or re-registers) a node and returns its new epoch. */
  async registerNode(nodeId: string, network: string, leaseTtlMs: number): Promise<NodeRecord> {
    const previous = await this.getNode(nodeId);
    const now = this.#clock.now();
    const record: NodeRecord = {
      type: "tether.registry.v1.node",
      nodeId,
      network,
      epoch: (previous?.epoch ?? 0) + 1,
      startedAt: now,
      heartbeatAt: now,
      leaseTtlMs,
      host: hostname(),
      pid: process.pid,
      actorCount: 0,
    };
    await this.#call("register node", () => this.#kv.put(registryKeys.node(nodeId), encode(record)));
    return record;
  }

  async heartbeat(record: NodeRecord): Promise<NodeRecord> {
    const next = { ...record, heartbeatAt: this.#clock.now() };
    await this.#call("heartbeat", () => this.#kv.put(registryKeys.node(record.nodeId), encode(next)));
    return next;
  }

  async removeNode(nodeId: string): Promise<void> {
    await this.#call("remove node", () => this.#kv.delete(registryKeys.node(nodeId)));
  }

  async getNode(nodeId: string): Promise<NodeRecord | undefined> {
    const entry = await this.#call("read node", () => this.#kv.get(registryKeys.node(nodeId)));
    if (entry === null || entry.operation !== "PUT") return undefined;
    const parsed = NodeRecord.safeParse(entry.json());
    return parsed.success ? parsed.data : undefined;
  }

  /**
   * Claims `record.actorId` for `record.nodeId`. Throws ERR_ACTOR_ALREADY_ACTIVE when a live node owns it.
   * Exactly one of any number of concurrent claimers wins.
   */
  async claim(record: ActorRecord): Promise<Claim> {
    const key = registryKeys.actor(record.actorId);
    const data = encode(record);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const revision = await this.#kv.create(key, data);
        await this.#indexOrRelease(record, revision);
        return { record, revision };
      } catch (error) {
        if (!isWrongLastSequence(error)) throw registryError("claim actor", error);
      }
      const entry = await this.#call("read claim", () => this.#kv.get(key));
      if (entry === null || entry.operation !== "PUT") continue; // deleted meanwhile: create again
      const current = ActorRecord.safeParse(entry.json());
      if (current.success) {
        const owner = current.data;
        const ownerNode = await this.getNode(owner.nodeId);
        const live = ownerNode !== undefined && ownerNode.epoch === owner.nodeEpoch && isLeaseAlive(ownerNode, this.#clock.now());
        if (live) throw alreadyActive(record.actorId, owner.nodeId);
      }
      try {
        // the owner is dead (or the record is unreadable): take over at the revision we read
        const revision = await this.#kv.update(key, data, entry.revision);
        await this.#indexOrRelease(record, revision);
        if (current.success) await this.#kv.delete(registryKeys.owned(current.data.nodeId, record.actorId)).catch(() => undefined);
        return { record, revision };
      } catch (error) {
        if (!isWrongLastSequence(error)) throw registryError("take over actor", error);
        throw alreadyActive(record.actorId, "another node");
      }
    }
    throw new TetherError("ERR_REGISTRY_FAILED", `could not claim ${record.actorId}: the key kept changing`);
  }

  /** Releases a claim if this node still holds it (revision unchanged). */
  async release(claim: Claim): Promise<void> {
    try {
      await this.#kv.delete(registryKeys.actor(claim.record.actorId), { previousSeq: claim.revision });
    } catch (error) {
      if (!isWrongLastSequence(error)) throw registryError("release actor", error);
    }
    await this.#kv.delete(registryKeys.owned(claim.record.nodeId, claim.record.actorId)).catch(() => undefined);
  }

  /**
   * Fencing: re-asserts a claim under a new node epoch, only if nobody changed it since `claim`
   * (compare-and-set at its revision). Returns the new claim, or undefined when it was taken over.
   */
  async reclaim(claim: Claim, nodeEpoch: number): Promise<Claim | undefined> {
    const record = { ...claim.record, nodeEpoch };
    try {
      const revision = await this.#kv.update(registryKeys.actor(record.actorId), encode(record), claim.revision);
      return { record, revision };
    } catch (error) {
      if (isWrongLastSequence(error)) return undefined;
      throw registryError("reclaim actor", error);
    }
  }

  /** The record of one actor, if claimed. */
  async getActor(actorId: string): Promise<ActorRecord | undefined> {
    const entry = await this.#call("read actor", () => this.#kv.get(registryKeys.actor(actorId)));
    if (entry === null || entry.operation !== "PUT") return undefined;
    const parsed = ActorRecord.safeParse(entry.json());
    return parsed.success ? parsed.data : undefined;
  }

  /** The actor records a node's index says it owns (only those whose record still names it). */
  async ownedBy(nodeId: string): Promise<ActorRecord[]> {
    const keys = await this.#call("list owned", () => this.#kv.keys(`${registryKeys.ownedPrefix(nodeId)}>`));
    const ids: string[] = [];
    for await (const k of keys) ids.push(k.slice(registryKeys.ownedPrefix(nodeId).length));
    const out: ActorRecord[] = [];
    for (const id of ids) {
      const entry = await this.#kv.get(registryKeys.actor(id)).catch(() => null);
      if (entry === null || entry.operation !== "PUT") continue;
      const parsed = ActorRecord.safeParse(entry.json());
      if (parsed.success && parsed.data.nodeId === nodeId) out.push(parsed.data);
    }
    return out;
  }

  /** Writes the ownership index; if that fails, gives the claim back so the id is never held by nobody. */
  async #indexOrRelease(record: ActorRecord, revision: number): Promise<void> {
    try {
      await this.#index(record);
    } catch (error) {
      await this.#kv.delete(registryKeys.actor(record.actorId), { previousSeq: revision }).catch(() => undefined);
      throw registryError("index the claim", error);
    }
  }

  async #index(record: ActorRecord): Promise<void> {
    await this.#kv.put(registryKeys.owned(record.nodeId, record.actorId), encoder.encode(record.className));
  }

  async listActors(): Promise<ActorRecord[]> {
    return this.#list(registryKeys.actorPrefix, ActorRecord);
  }

  async listNodes(): Promise<NodeRecord[]> {
    return this.#list(registryKeys.nodePrefix, NodeRecord);
  }

  async #list<T>(prefix: string, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }): Promise<T[]> {
    const out: T[] = [];
    const keys = await this.#call("list keys", () => this.#kv.keys(`${prefix}>`));
    const names: string[] = [];
    for await (const k of keys) names.push(k);
    names.sort();
    // reads go out 32 at a time (one after the other cost a round trip each: 100+ ms for a hundred actors)
    for (let i = 0; i < names.length; i += 32) {
      const entries = await Promise.all(names.slice(i, i + 32).map((name) => this.#call("read", () => this.#kv.get(name))));
      for (const entry of entries) {
        if (entry === null || entry.operation !== "PUT") continue;
        const parsed = schema.safeParse(entry.json());
        if (parsed.success) out.push(parsed.data);
      }
    }
    return out;
  }

  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw registryError(what, error);
    }
  }
}

const isWrongLastSequence = (error: unknown): boolean =>
  error instanceof Error && /wrong last sequence|key exists/i.test(`${error.message} ${String((error as { cause?: unknown }).cause ?? "")}`);

const registryError = (what: string, cause: unknown): TetherError =>
  new TetherError("ERR_REGISTRY_FAILED", `registry ${what} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });

const alreadyActive = (actorId: string, owner: string): TetherError =>
  new TetherError("ERR_ACTOR_ALREADY_ACTIVE", `actor ${actorId} is already active on ${owner}`, { details: { actorId, owner } });
