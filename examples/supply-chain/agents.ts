import { z } from "zod";
import { Actor, defineAgents } from "../../actors/index.ts";
import type { CompensationRequest } from "../../protocols/index.ts";
import type { ActorContext } from "../../runtime/index.ts";

/**
 * The seed-02 supply chain: inventory → shipping → payment. Each agent records its significant action
 * with a compensation, so a wrong inventory batch can be rolled back: payment, then shipping, then
 * inventory. `journal` (injected) receives one line per effect and per compensation.
 */

const InventoryMsg = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("order.place"), order: z.string().max(64), sku: z.string().max(64), qty: z.number().int().positive(), batch: z.string().max(64) }),
  z.strictObject({ type: z.literal("stock.get"), sku: z.string().max(64) }),
]);
type InventoryMsg = z.infer<typeof InventoryMsg>;

export interface OrderOutcome {
  readonly order: string;
  readonly workflowId: string | undefined;
  readonly shipment: string;
  readonly charged: number;
}

export class Inventory extends Actor<InventoryMsg, Map<string, number>> {
  static override readonly protocol = InventoryMsg;
  static override readonly capabilities = ["inventory"];
  override state = new Map<string, number>([["widget", 100]]);

  constructor(readonly journal: string[] = []) {
    super();
  }

  async handle(msg: InventoryMsg, ctx: ActorContext): Promise<OrderOutcome | number> {
    if (msg.type === "stock.get") return this.state.get(msg.sku) ?? 0;
    await ctx.act("reserve_batch", { order: msg.order, sku: msg.sku, qty: msg.qty, batch: msg.batch }, () => this.#move(msg.sku, -msg.qty, `reserved ${msg.qty} ${msg.sku} from batch ${msg.batch}`), {
      compensate: "release_batch",
    });
    const shipped = (await ctx.ref<typeof Shipping>("shipping").ask({ type: "ship", order: msg.order, sku: msg.sku, qty: msg.qty })) as {
      shipment: string;
      charged: number;
    };
    return { order: msg.order, workflowId: ctx.workflowId, ...shipped };
  }

  compensate(req: CompensationRequest): void {
    const p = req.params as { sku: string; qty: number; batch: string };
    this.#move(p.sku, +p.qty, `released ${p.qty} ${p.sku} back to stock (batch ${p.batch})`);
  }

  #move(sku: string, delta: number, line: string): number {
    const left = (this.state.get(sku) ?? 0) + delta;
    this.state.set(sku, left);
    this.journal.push(`inventory: ${line}`);
    return left;
  }
}

const ShippingMsg = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("ship"), order: z.string().max(64), sku: z.string().max(64), qty: z.number().int().positive() }),
  z.strictObject({ type: z.literal("shipments.count") }),
]);
type ShippingMsg = z.infer<typeof ShippingMsg>;

export class Shipping extends Actor<ShippingMsg, Set<string>> {
  static override readonly protocol = ShippingMsg;
  static override readonly capabilities = ["shipping"];
  override state = new Set<string>();

  constructor(readonly journal: string[] = []) {
    super();
  }

  async handle(msg: ShippingMsg, ctx: ActorContext): Promise<{ shipment: string; charged: number } | number> {
    if (msg.type === "shipments.count") return this.state.size;
    const shipment = await ctx.act("dispatch_items", { order: msg.order, sku: msg.sku, qty: msg.qty }, () => {
      const id = `SHP-${msg.order}`;
      this.state.add(id);
      this.journal.push(`shipping: dispatched ${id}`);
      return id;
    }, { compensate: "recall_shipment" });
    const charged = await ctx.ref<typeof Payment>("payment").ask({ type: "charge", order: msg.order, amount: msg.qty * 12 });
    return { shipment, charged: charged as number };
  }

  compensate(req: CompensationRequest): void {
    const shipment = req.result as string;
    this.state.delete(shipment);
    this.journal.push(`shipping: recalled ${shipment}`);
  }
}

const PaymentMsg = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("charge"), order: z.string().max(64), amount: z.number().positive() }),
  z.strictObject({ type: z.literal("balance") }),
]);
type PaymentMsg = z.infer<typeof PaymentMsg>;

export class Payment extends Actor<PaymentMsg, { collected: number; refundFailuresLeft: number }> {
  static override readonly protocol = PaymentMsg;
  static override readonly capabilities = ["payment"];
  override state: { collected: number; refundFailuresLeft: number };

  /** `failRefunds`: how many refund attempts fail first (to show retries and escalation). */
  constructor(readonly journal: string[] = [], failRefunds = 0) {
    super();
    this.state = { collected: 0, refundFailuresLeft: failRefunds };
  }

  async handle(msg: PaymentMsg, ctx: ActorContext): Promise<number> {
    if (msg.type === "balance") return this.state.collected;
    return ctx.act("charge_customer", { order: msg.order, amount: msg.amount }, () => {
      this.state.collected += msg.amount;
      this.journal.push(`payment: charged ${msg.amount} for ${msg.order}`);
      return msg.amount;
    }, { compensate: "refund_payment" });
  }

  compensate(req: CompensationRequest): void {
    if (this.state.refundFailuresLeft > 0) {
      this.state.refundFailuresLeft--;
      this.journal.push(`payment: refund attempt ${req.attempt} failed (bank unavailable)`);
      throw new Error("bank unavailable");
    }
    const amount = req.result as number;
    this.state.collected -= amount;
    this.journal.push(`payment: refunded ${amount}`);
  }
}

export default defineAgents([
  { id: "inventory", actor: Inventory },
  { id: "shipping", actor: Shipping },
  { id: "payment", actor: Payment },
]);
