import type { Msg, Subscription } from "@nats-io/transport-node";
import {
  MemoryReplayCache,
  OVERRIDE_TARGET,
  OverrideBroadcast,
  TetherError,
  decodeBody,
  isStanding,
  overrideSubjects,
  peekControl,
  verifyControl,
  type ActiveOverride,
  type ControlKeys,
  type OverrideConstraints,
  type OverrideSignalBody,
  type OverrideSubjects,
  type ReplayCache,
  type VerifiedControl,
} from "../../protocols/index.ts";
import type { ActorCell } from "../actor/actor-cell.ts";
import type { NodeCore } from "../node-core.ts";
import type { OverrideStore } from "../stores/override-store.ts";
import type { CellDirectory } from "./cell-directory.ts";
import { OVERRIDE_SIGNAL_ACT, overrideSignalJti, type OverrideEvidence } from "../assurance/override-evidence.ts";
import { matchesScope, type HeldOverride, type OverrideApplier } from "./override-apply.ts";
import { OverrideAcks, inFlight } from "./override-acks.ts";
import { answerHolding } from "./override-holding.ts";
import { WorkflowScopes } from "./override-workflow.ts";

/** Mints, stores and appends one override ECT (see `mintOverrideEct`); resolves with its jti. */
export type MintOverrideEct = (e: OverrideEvidence) => Promise<string>;

/** Records a refusal (violation in the ledger, node event) and returns the error; the control guard's `refused`. */
export type Refuse = (error: unknown, target: string, extra?: Record<string, unknown>) => TetherError;
export type RecordEvent = (event: string, subject: string, details: Record<string, unknown>) => Promise<unknown>;

/** A replay cache that remembers nothing: records read back from KV are checked for signature and role only. */
const NO_REPLAY: ReplayCache = { checkAndRemember: () => true };

/**
 * The node side of the override plane. It listens on the network's priority override subject with its
 * own subscription (not through any mailbox), checks each operator-signed signal itself (signature,
 * role, expiry, replay, and that the override actor persisted it), applies it to the local actors its
 * scope names and acknowledges each. Fencing: it loads every active override from KV before the node
 * hosts anything, applies them to each actor as it is activated (spawn, failover, migration), and holds
 * every mailbox from a disconnect until it has re-read them after the reconnect.
 */
export class OverrideGate {
  readonly subjects: OverrideSubjects;
  readonly #core: NodeCore;
  readonly #directory: CellDirectory;
  readonly #store: OverrideStore;
  readonly #keys: ControlKeys;
  readonly #refuse: Refuse;
  readonly #apply: OverrideApplier;
  readonly #exempt: ReadonlySet<string>;
  readonly #mint: MintOverrideEct | undefined;
  /** Sends acknowledgements, then their ECTs and ledger records. */
  readonly #acks: OverrideAcks;
  readonly #held = new Map<string, HeldOverride>();
  /** Live broadcasts (and issue requests) are accepted once per (kid, nonce). */
  readonly #replay: MemoryReplayCache;
  readonly #issueReplay: MemoryReplayCache;
  #sub: Subscription | undefined;
  #holdingSub: Subscription | undefined;
  #stale = false;
  #refreshing: Promise<void> | undefined;
  readonly #workflows: WorkflowScopes;
  /** Serializes signal handling so signals apply in arrival order. */
  #tail: Promise<void> = Promise.resolve();

  constructor(p: { core: NodeCore; directory: CellDirectory; store: OverrideStore; keys: ControlKeys; refuse: Refuse; recordEvent: RecordEvent; applier: OverrideApplier; exempt: readonly string[]; mint?: MintOverrideEct }) {
    this.#mint = p.mint;
    this.#acks = new OverrideAcks({ core: p.core, applier: p.applier, recordEvent: p.recordEvent, ...(p.mint === undefined ? {} : { mint: p.mint }) });
    this.#core = p.core;
    this.#directory = p.directory;
    this.#store = p.store;
    this.#keys = p.keys;
    this.#refuse = p.refuse;
    this.#apply = p.applier;
    this.#exempt = new Set(p.exempt);
    this.subjects = overrideSubjects(p.core.network);
    this.#replay = new MemoryReplayCache({ now: () => p.core.clock.now() });
    this.#issueReplay = new MemoryReplayCache({ now: () => p.core.clock.now() });
    this.#workflows = new WorkflowScopes({ held: this.#held, store: p.store, exempt: this.#exempt, catch: (cell, h, fenced) => this.#catchLate(cell, h, fenced), stale: () => this.#stale, logger: p.core.logger });
  }

  /** A workflow override reaches an actor after its signal (see `WorkflowScopes`): applied without pre-empting, and acknowledged. */
  #catchLate(cell: ActorCell, h: HeldOverride, fenced: boolean): void {
    h.applied.add(cell.id);
    const outcome = this.#apply.evaluate(cell, this.#held.values(), h.signal, false);
    this.#acks.one(h.signal.id, cell, "applied", outcome, fenced);
    this.#acks.record(h.signal.id, h.signal.action, [cell.id], fenced);
  }

  /** Loads the active overrides (before the node hosts anything) and starts listening. */
  async open(): Promise<void> {
    await this.#load();
    this.#sub = this.#core.nc.subscribe(this.subjects.signals(), { callback: (_err, msg) => this.#onSignal(msg) });
    this.#holdingSub = this.#core.nc.subscribe(this.subjects.holding(), { callback: (_err, msg) => answerHolding(msg, this.#held, this.#core.id, this.#core.logger) });
    void this.#watchTransport();
  }

  close(): void {
    this.#sub?.unsubscribe();
    this.#holdingSub?.unsubscribe();
  }

  /** Waits (at most `timeoutMs`) for the acknowledgement ECTs still queued: a closing node records them first. */
  async flushEvidence(timeoutMs: number): Promise<void> {
    await this.#acks.flush(timeoutMs);
  }

  /**
   * Mints the ECT of a signal the override actor accepted (once per signal, before or while it is
   * broadcast): its jti is fixed by the signal id, so every node's acknowledgements name it as their parent.
   */
  async recordSignal(signal: OverrideSignalBody, by: { kid: string; role: string; owner: string }, issuer: string): Promise<string | undefined> {
    if (this.#mint === undefined) return undefined;
    const wid = signal.scope.kind === "workflow" ? signal.scope.wid : signal.rollback?.workflow;
    return this.#mint({
      act: OVERRIDE_SIGNAL_ACT,
      actorId: issuer,
      jti: overrideSignalJti(signal.id),
      parents: [],
      wid: wid?.slice(0, 256),
      input: signal,
      details: { id: signal.id, action: signal.action, level: signal.level, scope: signal.scope, reason: signal.reason.slice(0, 1024), by },
    });
  }

  /** The overrides this node holds active now. */
  active(): OverrideSignalBody[] {
    return [...this.#held.values()].map((h) => h.signal);
  }

  /** The run-time limits a `constrain` set on a local actor (checked by `ctx.act`). */
  constraintsOf(actorId: string): OverrideConstraints | undefined {
    return this.#directory.get(actorId)?.constraints as OverrideConstraints | undefined;
  }

  /**
   * Checks an override control message handed to the override actor: a person's signature, role,
   * expiry, not replayed. A refusal is recorded (ledger violation, node event) and thrown.
   */
  async verifyRequest(envelope: unknown): Promise<VerifiedControl> {
    try {
      return await this.#verify(envelope, this.#issueReplay, this.#core.clock.now());
    } catch (error) {
      throw this.#refuse(error, OVERRIDE_TARGET, { plane: "override" });
    }
  }

  /**
   * Fencing at activation: an actor starting here (spawn, failover, migration) gets every active
   * override that names it before it takes its first message, and acknowledges each.
   */
  admit(cell: ActorCell): void {
    if (this.#stale) cell.hold("fencing", true);
    cell.screen = (delivery) => this.#workflows.screen(cell, delivery);
    this.#workflows.admit(cell);
    const applied: HeldOverride[] = [];
    for (const h of this.#held.values()) {
      // a workflow scope re-applies to an actor caught here before (re-activation); others: WorkflowScopes.admit
      if (h.signal.scope.kind === "workflow" ? !h.applied.has(cell.id) : !matchesScope(h.signal.scope, cell, this.#scopeParams())) continue;
      h.applied.add(cell.id);
      applied.push(h);
    }
    if (applied.length === 0) return;
    const outcome = this.#apply.evaluate(cell, this.#held.values());
    for (const h of applied) this.#acks.one(h.signal.id, cell, "applied", { ...outcome, aborted: false }, true);
  }

  #scopeParams() {
    return { nodeId: this.#core.id, directory: this.#directory, exempt: this.#exempt };
  }

  /**
   * Checks a person's signed task result carried by a task-done announcement: signature, role, expiry.
   * No replay cache: the result is bound to its task, which is answered once (and the override actor,
   * which may run on this node, already remembered its nonce).
   */
  verifyTaskResult(envelope: unknown): Promise<VerifiedControl> {
    return this.#verify(envelope, NO_REPLAY, this.#core.clock.now());
  }

  async #verify(envelope: unknown, replay: ReplayCache, now: number): Promise<VerifiedControl> {
    return verifyControl(envelope, { network: this.#core.network, target: OVERRIDE_TARGET, now, keys: this.#keys, replay, clockSkewMs: this.#core.options.assurance.clockSkewSeconds * 1000 });
  }

  /** Reads every active override from KV, keeping those whose signature and role verify. */
  async #readStore(): Promise<Map<string, ActiveOverride>> {
    const out = new Map<string, ActiveOverride>();
    for (const record of await this.#store.list()) {
      const issuedAt = peekControl(record.envelope.token)?.payload["issuedAt"];
      try {
        const verified = await this.#verify(record.envelope, NO_REPLAY, typeof issuedAt === "number" ? issuedAt : 0);
        if (verified.body.type !== "tether.override.v1.signal" || verified.body.id !== record.id) throw new TetherError("ERR_OVERRIDE_INVALID", `KV record ${record.id} does not hold its own signal`);
        out.set(record.id, { ...record, signal: verified.body });
      } catch (error) {
        this.#refuse(error, OVERRIDE_TARGET, { plane: "override", source: "kv", overrideId: record.id });
      }
    }
    return out;
  }

  async #load(): Promise<void> {
    for (const [id, record] of await this.#readStore()) this.#held.set(id, { signal: record.signal, applied: new Set(), declined: new Set() });
  }

  /** After a reconnect: re-read KV, apply what was missed, drop what was lifted, then release the mailboxes. */
  #refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          const records = await this.#readStore();
          this.#enqueue(async () => {
            for (const [id, h] of [...this.#held]) if (!records.has(id)) this.#liftLocal(id, h.signal.onLift, h);
            for (const [id, record] of records) if (!this.#held.has(id)) await this.#applySignal(record.signal, true);
            this.#stale = false;
            for (const cell of this.#directory.cells.values()) cell.hold("fencing", false);
          });
          await this.#tail;
          return;
        } catch (error) {
          this.#core.logger.warn("re-reading active overrides failed; mailboxes stay held", { attempt, error });
          await new Promise((r) => setTimeout(r, Math.min(5_000, 200 * 2 ** attempt)));
          if (!this.#core.running) return;
        }
      }
    })().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #watchTransport(): Promise<void> {
    for await (const status of this.#core.nc.status()) {
      if (status.type === "disconnect" && this.#core.running) {
        this.#stale = true;
        for (const cell of this.#directory.cells.values()) cell.hold("fencing", true);
      } else if (status.type === "reconnect" && this.#stale) {
        void this.#refresh();
      }
    }
  }

  #enqueue(work: () => Promise<void>): void {
    this.#tail = this.#tail.then(work).catch((error: unknown) => this.#core.logger.error("override signal failed", { error }));
  }

  #onSignal(msg: Msg): void {
    let decoded: unknown;
    try {
      decoded = decodeBody(msg.data);
    } catch {
      decoded = undefined;
    }
    const parsed = OverrideBroadcast.safeParse(decoded);
    if (!parsed.success) {
      // say why as the control guard would: a bare signal is unsigned, anything else malformed
      const inner = (decoded as { envelope?: unknown } | undefined)?.envelope ?? decoded;
      this.#verify(inner, NO_REPLAY, this.#core.clock.now()).then(
        () => this.#refuse(new TetherError("ERR_CONTROL_MALFORMED", "not an override broadcast"), OVERRIDE_TARGET, { plane: "override" }),
        (error: unknown) => this.#refuse(error, OVERRIDE_TARGET, { plane: "override" }),
      );
      return;
    }
    const broadcast = parsed.data;
    // verification starts at once (in parallel), application keeps arrival order
    const verified = this.#verify(broadcast.envelope, this.#replay, this.#core.clock.now());
    verified.catch(() => undefined);
    this.#enqueue(async () => {
      let v: VerifiedControl;
      try {
        v = await verified;
        if (broadcast.op === "apply") {
          if (v.body.type !== "tether.override.v1.signal") throw new TetherError("ERR_CONTROL_MALFORMED", "an apply broadcast must carry a signal");
          const stored = isStanding(v.body.action) ? await this.#store.get(v.body.id) : undefined;
          if (isStanding(v.body.action) && stored?.envelope.token !== broadcast.envelope.token) {
            throw new TetherError("ERR_OVERRIDE_INVALID", `override ${v.body.id} is not in the active set: signals go through the override actor`);
          }
        } else if (v.body.type !== "tether.override.v1.lift") throw new TetherError("ERR_CONTROL_MALFORMED", "a lift broadcast must carry a lift");
      } catch (error) {
        this.#refuse(error, OVERRIDE_TARGET, { plane: "override" });
        return;
      }
      if (v.body.type === "tether.override.v1.signal") await this.#applySignal(v.body, false);
      else {
        const h = this.#held.get(v.body.id);
        if (h !== undefined) this.#liftLocal(v.body.id, v.body.disposition ?? h.signal.onLift, h);
      }
    });
  }

  /** Applies one signal to every local actor its scope names, each acknowledging. */
  async #applySignal(signal: OverrideSignalBody, fenced: boolean): Promise<void> {
    if (signal.action === "rollback") return; // run by the override actor through the rollback coordinator
    if (signal.action === "resume") {
      for (const [id, h] of [...this.#held]) {
        if (h.signal.action === "pause" && (signal.scope.kind === "network" || JSON.stringify(h.signal.scope) === JSON.stringify(signal.scope))) this.#liftLocal(id, "release", h, signal.id);
      }
      return;
    }
    const held: HeldOverride = this.#held.get(signal.id) ?? { signal, applied: new Set(), declined: new Set() };
    this.#held.set(signal.id, held);
    const params = this.#scopeParams();
    const cells = [...this.#directory.cells.values()].filter((c) => c.state !== "stopped" && matchesScope(signal.scope, c, params));
    const acked: string[] = [];
    for (const cell of cells) {
      let decision: string | undefined;
      if (signal.level === "advisory" && cell.instance.onOverride !== undefined) {
        try {
          const d = await cell.instance.onOverride({ id: signal.id, action: signal.action, level: signal.level, reason: signal.reason });
          decision = `${d.comply ? "comply" : "decline"}${d.reason === undefined ? "" : `: ${d.reason}`}`.slice(0, 1024);
          if (!d.comply) held.declined.add(cell.id);
        } catch (error) {
          decision = `comply: onOverride failed (${String(error).slice(0, 200)})`;
        }
      }
      held.applied.add(cell.id);
      const interrupted = inFlight(cell);
      const outcome = held.declined.has(cell.id) ? { aborted: false, queued: cell.mailbox.size } : this.#apply.evaluate(cell, this.#held.values(), signal);
      this.#acks.one(signal.id, cell, held.declined.has(cell.id) ? "declined" : "applied", outcome, fenced, decision, interrupted);
      acked.push(cell.id);
    }
    this.#acks.record(signal.id, signal.action, acked, fenced);
    this.#workflows.sweep(held, this.#directory.cells.values()); // workflow scopes: messages already queued
  }

  /** Removes an override here and re-evaluates the actors it held; each acknowledges the lift. */
  #liftLocal(id: string, disposition: "release" | "dead-letter", h: HeldOverride, ackAs = id): void {
    this.#held.delete(id);
    const lifted: string[] = [];
    for (const actorId of h.applied) {
      const cell = this.#directory.get(actorId);
      if (cell === undefined) continue;
      const outcome = this.#apply.evaluate(cell, this.#held.values());
      if (h.signal.action === "stop") this.#apply.discardQueued(cell, id, disposition);
      this.#acks.one(ackAs, cell, "lifted", outcome, false);
      lifted.push(actorId);
    }
    this.#acks.record(ackAs, "lift", lifted, false, id);
  }
}
