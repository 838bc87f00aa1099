import type { NatsConnection } from "@nats-io/transport-node";
import { DiscardPolicy, StorageType, jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import { HumanTask, TetherError, decodeBody, encodeBody, overrideSubjects, type OverrideSubjects } from "../../protocols/index.ts";
import type { Logger } from "../support/logger.ts";
import { ensureStream } from "./jetstream-provisioning.ts";

/**
 * The human work queue (JetStream stream `TETHER_<net>_OVERRIDE_WORK`): what a `takeover` took from
 * an actor (its message in flight and everything queued), one `HumanTask` per message, kept until a
 * person completes it (`tether overrides queue`, `tether overrides done <task>`).
 */
export class HumanWork {
  readonly #js: JetStreamClient;
  readonly #nc: NatsConnection;
  readonly #subjects: OverrideSubjects;
  readonly #logger: Logger;

  private constructor(nc: NatsConnection, subjects: OverrideSubjects, logger: Logger) {
    this.#nc = nc;
    this.#js = jetstream(nc);
    this.#subjects = subjects;
    this.#logger = logger;
  }

  static async open(nc: NatsConnection, network: string, options: { replicas: number; logger: Logger; maxBytes?: number }): Promise<HumanWork> {
    const subjects = overrideSubjects(network);
    await ensureStream(nc, {
      name: subjects.workStream(),
      subjects: [subjects.work()],
      num_replicas: options.replicas,
      max_msgs: 1_000_000,
      max_bytes: options.maxBytes ?? 4 * 1024 * 1024,
      discard: DiscardPolicy.Old,
      storage: StorageType.File,
    });
    return new HumanWork(nc, subjects, options.logger);
  }

  /** Stores a task (asynchronously; a failure is logged at error level). */
  push(task: HumanTask): void {
    this.#js.publish(this.#subjects.work(), encodeBody(task), { msgID: task.taskId }).catch((error: unknown) => this.#logger.error("human task could not be stored", { taskId: task.taskId, error }));
  }

  /** Every open task, oldest first, with its stream sequence. */
  async list(): Promise<(HumanTask & { seq: number })[]> {
    const jsm = await jetstreamManager(this.#nc);
    const name = this.#subjects.workStream();
    const info = await jsm.streams.info(name);
    const out: (HumanTask & { seq: number })[] = [];
    if (info.state.messages === 0) return out;
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(name, { seq }).catch(() => null);
      if (m === null) continue;
      const task = HumanTask.safeParse(decodeBody(m.data));
      if (task.success) out.push({ ...task.data, seq });
    }
    return out;
  }

  /** Removes a completed task and returns it (ERR_OVERRIDE_INVALID when no such task is open). */
  async complete(taskId: string): Promise<HumanTask> {
    const task = (await this.list()).find((t) => t.taskId === taskId);
    if (task === undefined) throw new TetherError("ERR_OVERRIDE_INVALID", `no open human task ${taskId}`);
    const jsm = await jetstreamManager(this.#nc);
    await jsm.streams.deleteMessage(this.#subjects.workStream(), task.seq);
    const { seq: _seq, ...rest } = task;
    return rest;
  }
}
