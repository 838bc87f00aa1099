import { overrideSubjects, type OverrideAck, type OverrideSubjects } from "../../protocols/index.ts";
import type { ActorCell } from "../actor/actor-cell.ts";
import type { NodeCore } from "../node-core.ts";
import { OVERRIDE_ACK_ACT, overrideSignalJti, type OverrideEvidence } from "../assurance/override-evidence.ts";
import { DeferredEvidence } from "./deferred-evidence.ts";
import type { OverrideApplier } from "./override-apply.ts";

/** Records in the ledger carry at most this many actor ids each. */
const ACK_RECORD_CHUNK = 200;

/** The ECT of the handler in flight: its latest action's, else the one its message came with. */
export const inFlight = (cell: ActorCell): { jti: string; wid: string | undefined } | undefined => {
  if (cell.current === undefined) return undefined;
  const token = cell.currentScope?.current ?? cell.current.incoming;
  return token === undefined ? undefined : { jti: token.jti, wid: token.wid };
};

/**
 * A node's acknowledgements of override signals: each actor's ack goes out at once (coverage is what
 * the operator waits for); its ECT (parented to the signal and to the action it interrupted) is minted
 * afterwards, off the ack path; one ledger record per node and signal says who acknowledged.
 */
export class OverrideAcks {
  readonly #core: NodeCore;
  readonly #subjects: OverrideSubjects;
  readonly #apply: OverrideApplier;
  readonly #record: (event: string, subject: string, details: Record<string, unknown>) => Promise<unknown>;
  readonly #mint: ((e: OverrideEvidence) => Promise<string>) | undefined;
  readonly #evidence: DeferredEvidence;

  constructor(p: { core: NodeCore; applier: OverrideApplier; recordEvent: (event: string, subject: string, details: Record<string, unknown>) => Promise<unknown>; mint?: (e: OverrideEvidence) => Promise<string> }) {
    this.#core = p.core;
    this.#subjects = overrideSubjects(p.core.network);
    this.#apply = p.applier;
    this.#record = p.recordEvent;
    this.#mint = p.mint;
    this.#evidence = new DeferredEvidence({ onError: (error) => p.core.logger.warn("override acknowledgement ECT not minted", { error }) });
  }

  /** Waits (at most `timeoutMs`) for the acknowledgement ECTs still queued: a closing node records them first. */
  async flush(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#evidence.settled(), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** One actor's acknowledgement, sent now; its ECT follows off the ack path. */
  one(overrideId: string, cell: ActorCell, outcome: OverrideAck["outcome"], o: { aborted: boolean; queued: number }, fenced: boolean, decision?: string, interrupted?: { jti: string; wid: string | undefined }): void {
    const ack: OverrideAck = {
      type: "tether.override.v1.ack",
      overrideId,
      actorId: cell.id,
      nodeId: this.#core.id,
      at: this.#core.clock.now(),
      outcome,
      aborted: o.aborted,
      queued: o.queued,
      fenced,
      ...(decision === undefined ? {} : { decision }),
    };
    this.#apply.ack(this.#subjects.acks(overrideId), ack);
    // the acknowledgement's ECT, after the acks are out (it never delays coverage): parents are the
    // signal's ECT and the ECT of the action it interrupted
    const mint = this.#mint;
    if (mint === undefined) return;
    this.#evidence.add(() =>
      mint({
      act: OVERRIDE_ACK_ACT,
      actorId: cell.id,
      parents: [overrideSignalJti(overrideId), ...(interrupted === undefined ? [] : [interrupted.jti])],
      wid: interrupted?.wid,
      input: ack,
        details: { overrideId, outcome, aborted: o.aborted, queued: o.queued, fenced, ...(decision === undefined ? {} : { decision }), ...(interrupted === undefined ? {} : { interrupted: interrupted.jti }) },
      }),
    );
  }

  /** One ledger record per node and signal (in chunks of 200 actor ids): who acknowledged, when. */
  record(overrideId: string, action: string, actors: readonly string[], fenced: boolean, lifted?: string): void {
    for (let i = 0; i < actors.length; i += ACK_RECORD_CHUNK) {
      void this.#record("override.ack", overrideId, {
        action,
        node: this.#core.id,
        at: this.#core.clock.now(),
        fenced,
        actors: actors.slice(i, i + ACK_RECORD_CHUNK),
        ...(lifted === undefined ? {} : { lifted }),
      }).catch(() => undefined);
    }
  }
}
