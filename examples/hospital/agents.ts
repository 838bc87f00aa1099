import { z } from "zod";
import { Actor } from "../../actors/index.ts";
import type { CompensationRequest } from "../../protocols/index.ts";
import type { ActorContext } from "../../runtime/index.ts";

/**
 * The seed-02 hospital: a prescribing agent writes an order, the pharmacy checks and releases it
 * (its `dispense` action is what the approval policy gates), and the dispensing agent dispenses the
 * batch one unit at a time, each unit a compensable action (`recall`). `journal` (injected) receives
 * one line per effect and per compensation, so the demo can narrate what actually happened.
 */

const PrescriberMsg = z.strictObject({
  type: z.literal("prescribe"),
  order: z.string().max(64),
  patient: z.string().max(64),
  drug: z.string().max(64),
  doseMg: z.number().positive(),
  units: z.number().int().positive().max(100),
});
type PrescriberMsg = z.infer<typeof PrescriberMsg>;

/** Usual maximum single dose, mg (the pharmacy's reference). */
export const USUAL_MAX_MG: Readonly<Record<string, number>> = { methotrexate: 25, paracetamol: 1000 };

export class Prescriber extends Actor<PrescriberMsg, undefined> {
  static override readonly protocol = PrescriberMsg;
  static override readonly capabilities = ["prescribing"];
  constructor(readonly journal: string[] = []) {
    super();
  }

  async handle(msg: PrescriberMsg, ctx: ActorContext): Promise<unknown> {
    await ctx.act("prescribe", { order: msg.order, patient: msg.patient, drug: msg.drug, doseMg: msg.doseMg }, () => {
      this.journal.push(`prescriber: order ${msg.order}: ${msg.drug} ${msg.doseMg} mg × ${msg.units} for ${msg.patient}`);
    }, { compensate: "cancel_prescription" });
    return ctx.ref<typeof Pharmacy>("pharmacy").ask({ type: "order", order: msg.order, patient: msg.patient, drug: msg.drug, doseMg: msg.doseMg, units: msg.units }, { timeoutMs: 60_000 });
  }

  compensate(req: CompensationRequest): void {
    this.journal.push(`prescriber: cancelled prescription ${String((req.params as { order?: string }).order)}`);
  }
}

const PharmacyMsg = z.strictObject({
  type: z.literal("order"),
  order: z.string().max(64),
  patient: z.string().max(64),
  drug: z.string().max(64),
  doseMg: z.number().positive(),
  units: z.number().int().positive().max(100),
});
type PharmacyMsg = z.infer<typeof PharmacyMsg>;

export class Pharmacy extends Actor<PharmacyMsg, undefined> {
  static override readonly protocol = PharmacyMsg;
  static override readonly capabilities = ["pharmacy"];
  constructor(readonly journal: string[] = []) {
    super();
  }

  /** Releases the order to the dispensing agent through `ctx.act("dispense")`, which the dose policy may gate. */
  async handle(msg: PharmacyMsg, ctx: ActorContext): Promise<unknown> {
    const usualMaxMg = USUAL_MAX_MG[msg.drug] ?? 0;
    const params = { order: msg.order, drug: msg.drug, doseMg: msg.doseMg, usualMaxMg, units: msg.units, rationale: `prescribed by the prescribing agent for ${msg.patient}` };
    await ctx.act("dispense", params, () => {
      this.journal.push(`pharmacy: released order ${msg.order} (${msg.drug} ${msg.doseMg} mg, usual max ${usualMaxMg} mg)`);
    }, { compensate: "void_order" });
    // told after the action (not inside it) so the dispenser's work is parented to this dispense ECT
    await ctx.ref<typeof Dispenser>("dispenser").tell({ type: "dispense.batch", order: msg.order, drug: msg.drug, doseMg: msg.doseMg, units: msg.units });
    return { order: msg.order, released: true, workflowId: ctx.workflowId };
  }

  compensate(req: CompensationRequest): void {
    this.journal.push(`pharmacy: voided order ${String((req.params as { order?: string }).order)}`);
  }
}

const DispenserMsg = z.strictObject({
  type: z.literal("dispense.batch"),
  order: z.string().max(64),
  drug: z.string().max(64),
  doseMg: z.number().positive(),
  units: z.number().int().positive().max(100),
});
type DispenserMsg = z.infer<typeof DispenserMsg>;

/** Dispenses a batch one unit at a time (slowly: a cabinet), stopping at once when ctx.signal fires. */
export class Dispenser extends Actor<DispenserMsg, { dispensed: number }> {
  static override readonly protocol = DispenserMsg;
  static override readonly capabilities = ["dispensing"];
  override state = { dispensed: 0 };
  constructor(readonly journal: string[] = [], readonly unitMs = 250) {
    super();
  }

  async handle(msg: DispenserMsg, ctx: ActorContext): Promise<void> {
    this.journal.push(`dispenser: batch for order ${msg.order} started (workflow ${ctx.workflowId ?? "-"})`);
    for (let unit = 1; unit <= msg.units; unit++) {
      ctx.signal.throwIfAborted();
      await ctx.act("dispense_unit", { order: msg.order, drug: msg.drug, doseMg: msg.doseMg, unit }, () => {
        this.state.dispensed += 1;
        this.journal.push(`dispenser: dispensed unit ${unit}/${msg.units} of order ${msg.order}`);
      }, { compensate: "recall" });
      await pause(this.unitMs, ctx.signal);
    }
    this.journal.push(`dispenser: batch for order ${msg.order} complete`);
  }

  compensate(req: CompensationRequest): void {
    const p = req.params as { order: string; unit: number };
    this.state.dispensed -= 1;
    this.journal.push(`dispenser: recalled unit ${p.unit} of order ${p.order}`);
  }
}

/** Waits `ms`, or rejects with the signal's reason as soon as it fires. */
const pause = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
