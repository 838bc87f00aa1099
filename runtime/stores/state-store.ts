import type { NatsConnection } from "@nats-io/transport-node";
import type { KV } from "@nats-io/kv";
import { ensureKvBucket } from "./jetstream-provisioning.ts";
import { Packr } from "msgpackr";
import { TetherError, type NetworkSubjects } from "../../protocols/index.ts";

/** A durable message whose effects a checkpoint includes: its id and its stream sequence. */
export interface ProcessedMark {
  readonly id: string;
  readonly seq: number;
}

/**
 * What a checkpoint knows of the durable messages its state includes: marks for those JetStream may
 * still redeliver, and the acknowledgement floor below which it never will. A redelivered copy is
 * already included when its id is marked or its stream sequence is at or below the floor: a copy can
 * arrive after its original was acknowledged and its mark pruned (JetStream redelivers when the ack
 * wait runs out, and an original acknowledged later does not recall the copy already sent).
 */
export interface DurableProgress {
  readonly marks: readonly ProcessedMark[];
  /** JetStream acknowledged (or terminated) every message of the actor's lane up to this stream sequence. */
  readonly floor: number;
}

/** One actor's saved state. */
export interface Checkpoint {
  readonly state: unknown;
  /**
   * Durable messages whose effects this state includes and that JetStream may still redeliver (those
   * above the consumer's acknowledgement floor): their redeliveries are skipped.
   */
  readonly processed: readonly ProcessedMark[];
  /** The acknowledgement floor this state was saved with (see DurableProgress); 0 when none. */
  readonly floor: number;
  /** Set by the node that saved it. */
  readonly nodeId: string;
  readonly at: number;
  /** KV revision: increases with every save of this actor. */
  readonly revision: number;
}

/**
 * Actor state checkpoints in JetStream KV (`tether_<net>_state`, key `s.<actorId>`, msgpack values),
 * so an actor resumes where it left off after a restart, a migration or its node's death.
 */
/** The KV operations checkpoints need (JetStream's `KV` has them; unit tests pass an in-memory one). */
export type CheckpointBucket = Pick<KV, "get" | "put" | "create" | "update">;

export class StateStore {
  readonly #kv: CheckpointBucket;
  /** Structured-clone msgpack: Map, Set, Date, typed arrays and shared references survive a checkpoint. */
  readonly #codec = new Packr({ structuredClone: true });

  constructor(kv: CheckpointBucket) {
    this.#kv = kv;
  }

  static async open(nc: NatsConnection, subjects: NetworkSubjects, options: { replicas: number; maxBytes?: number }): Promise<StateStore> {
    return new StateStore(await ensureKvBucket(nc, subjects.stateBucket(), { history: 1, replicas: options.replicas, ...(options.maxBytes === undefined ? {} : { max_bytes: options.maxBytes }) }));
  }

  /**
   * Saves a checkpoint. With `expectRevision` (the revision this node loaded or last saved; 0 for
   * "none yet") the write is a compare-and-set: a stale copy of the actor (a node that was declared
   * dead and came back) can never overwrite the state of the node that took over. It then fails with
   * ERR_ACTOR_FENCED.
   */
  async save(actorId: string, state: unknown, nodeId: string, at: number, progress: DurableProgress = NO_PROGRESS, expectRevision?: number): Promise<number> {
    return this.saveEncoded(actorId, this.encode(actorId, state, nodeId, at, progress), expectRevision);
  }

  /**
   * Encodes a checkpoint now: a snapshot of the state and of the durable messages it includes, taken
   * synchronously, so what is written later is exactly this (not whatever the actor did meanwhile).
   */
  encode(actorId: string, state: unknown, nodeId: string, at: number, progress: DurableProgress): Uint8Array {
    try {
      return this.#codec.pack({ state, nodeId, at, processed: progress.marks, floor: progress.floor });
    } catch (cause) {
      throw new TetherError("ERR_MESSAGE_INVALID", `state of ${actorId} cannot be encoded for a checkpoint: ${String(cause)}`, { cause });
    }
  }

  /** Writes a checkpoint made by `encode` (compare-and-set with `expectRevision`, as `save`). */
  async saveEncoded(actorId: string, data: Uint8Array, expectRevision?: number): Promise<number> {
    try {
      if (expectRevision === undefined) return await this.#kv.put(`s.${actorId}`, data);
      if (expectRevision === 0) return await this.#kv.create(`s.${actorId}`, data);
      return await this.#kv.update(`s.${actorId}`, data, expectRevision);
    } catch (cause) {
      if (expectRevision !== undefined && /wrong last sequence|key exists/i.test(String(cause))) {
        throw new TetherError("ERR_ACTOR_FENCED", `checkpoint of ${actorId} refused: another copy saved since (this copy is fenced)`, { cause });
      }
      throw new TetherError("ERR_STATE_STORE_FAILED", `checkpoint of ${actorId} failed: ${String(cause)}`, { cause });
    }
  }

  async load(actorId: string): Promise<Checkpoint | undefined> {
    const entry = await this.#kv.get(`s.${actorId}`).catch((cause: unknown) => {
      throw new TetherError("ERR_STATE_STORE_FAILED", `reading the checkpoint of ${actorId} failed: ${String(cause)}`, { cause });
    });
    if (entry === null || entry.operation !== "PUT") return undefined;
    let body: { state: unknown; nodeId: string; at: number; processed?: unknown[]; floor?: unknown };
    try {
      body = this.#codec.unpack(entry.value) as typeof body;
    } catch (cause) {
      throw new TetherError("ERR_MESSAGE_MALFORMED", `the checkpoint of ${actorId} cannot be decoded`, { cause });
    }
    const floor = typeof body.floor === "number" && Number.isSafeInteger(body.floor) && body.floor > 0 ? body.floor : 0;
    return { state: body.state, processed: readMarks(body.processed), floor, nodeId: body.nodeId, at: body.at, revision: entry.revision };
  }
}

const NO_PROGRESS: DurableProgress = { marks: [], floor: 0 };

/** Checkpoints written before marks carried a sequence hold bare ids: keep them (sequence 0). */
const readMarks = (raw: unknown[] | undefined): ProcessedMark[] =>
  (raw ?? []).flatMap((m): ProcessedMark[] => {
    if (typeof m === "string") return [{ id: m, seq: 0 }];
    const mark = m as Partial<ProcessedMark> | null;
    return typeof mark?.id === "string" && typeof mark.seq === "number" ? [{ id: mark.id, seq: mark.seq }] : [];
  });
