import { AuditReceipt, TetherError, errorFromWire, isTetherError, type AssuranceLevel } from "../../protocols/index.ts";
import type { ActorRef } from "../actor/actor-types.ts";
import type { Clock } from "../support/clock.ts";
import type { TetherMetrics } from "../telemetry/metrics.ts";

/** One entry to append: an ECT, or a security event. */
export type LedgerEntry =
  | { readonly kind: "ect"; readonly token: string; readonly level: AssuranceLevel }
  | { readonly kind: "event"; readonly event: string; readonly subject?: string; readonly details: Record<string, unknown> };

export interface LedgerReceipt {
  readonly index: number;
  readonly hash: string;
  /** For an ECT: the receipt signed by the ledger's key (`signReceipt`), the `tether-receipt` header value. */
  readonly receipt?: string | undefined;
}

export interface LedgerClientOptions {
  readonly onUnavailable: "wait" | "fail";
  readonly timeoutMs: number;
  readonly clock: Clock;
  /** Append latency per batch (`tether.ledger.append.duration`) and entries awaiting receipts (`tether.ledger.pending`). */
  readonly metrics?: TetherMetrics;
}

interface Waiting {
  readonly entry: LedgerEntry;
  readonly resolve: (r: LedgerReceipt) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Appends to the network's audit ledger actor. Appends made in the same tick travel as one batch
 * (one ask), so many concurrent actions cost one round trip. Unavailable ledger: fail at once, or
 * retry until `timeoutMs`, per policy; either way the caller gets ERR_LEDGER_UNAVAILABLE, never a hang.
 */
export class LedgerClient {
  readonly #ref: ActorRef<unknown, unknown>;
  readonly #options: LedgerClientOptions;
  #batch: Waiting[] = [];
  #scheduled = false;
  #inFlight = false;
  #sending = 0;

  constructor(ref: ActorRef<unknown, unknown>, options: LedgerClientOptions) {
    this.#ref = ref;
    this.#options = options;
    options.metrics?.observeLedger(() => this.pending);
  }

  /** Entries waiting for their receipt: queued for the next batch or in the batch in flight (the ledger's lag behind this node). */
  get pending(): number {
    return this.#batch.length + this.#sending;
  }

  append(entry: LedgerEntry): Promise<LedgerReceipt> {
    return new Promise((resolve, reject) => {
      this.#batch.push({ entry, resolve, reject });
      this.#schedule();
    });
  }

  /** One append ask in flight at a time: entries arriving meanwhile form the next (larger) batch. */
  #schedule(): void {
    if (this.#scheduled || this.#inFlight || this.#batch.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => void this.#flush());
  }

  async #flush(): Promise<void> {
    const batch = this.#batch;
    this.#batch = [];
    this.#scheduled = false;
    this.#inFlight = true;
    this.#sending = batch.length;
    try {
      await this.#flushBatch(batch);
    } finally {
      this.#inFlight = false;
      this.#sending = 0;
      this.#schedule();
    }
  }

  async #flushBatch(batch: Waiting[]): Promise<void> {
    for (let i = 0; i < batch.length; i += 500) {
      const chunk = batch.slice(i, i + 500);
      const metrics = this.#options.metrics;
      const started = metrics?.now() ?? 0;
      try {
        const receipts = await this.#send(chunk.map((w) => w.entry));
        metrics?.ledgerAppended((metrics.now() - started) / 1000, undefined);
        chunk.forEach((w, j) => {
          const parsed = AuditReceipt.safeParse(receipts[j]);
          if (!parsed.success) w.reject(new TetherError("ERR_LEDGER_UNAVAILABLE", "the ledger returned no valid receipt for an entry"));
          else if ("error" in parsed.data) w.reject(errorFromWire({ code: parsed.data.error, message: `the ledger refused the entry: ${parsed.data.message}` }));
          else w.resolve(parsed.data);
        });
      } catch (error) {
        metrics?.ledgerAppended((metrics.now() - started) / 1000, isTetherError(error) ? error.code : "ERR_LEDGER_UNAVAILABLE");
        for (const w of chunk) w.reject(error);
      }
      this.#sending -= chunk.length;
    }
  }

  async #send(entries: LedgerEntry[]): Promise<unknown[]> {
    const deadline = this.#options.clock.now() + this.#options.timeoutMs;
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      const remaining = deadline - this.#options.clock.now();
      if (remaining <= 0) break;
      try {
        const reply = (await this.#ref.ask({ type: "tether.audit.v1.append", entries }, { timeoutMs: remaining })) as { receipts?: unknown[] };
        return Array.isArray(reply?.receipts) ? reply.receipts : [];
      } catch (error) {
        lastError = error;
        // ERR_ACTOR_NOT_FOUND (no ledger yet), ERR_ASK_TIMEOUT, ERR_MAILBOX_FULL… are all retryable
        const transient = isTetherError(error) && error.retryable;
        if (this.#options.onUnavailable === "fail" || !transient) break;
        await new Promise<void>((r) => this.#options.clock.setTimeout(r, Math.min(50 * 2 ** attempt, 500)));
      }
    }
    throw new TetherError("ERR_LEDGER_UNAVAILABLE", `the audit ledger did not acknowledge ${entries.length} entr${entries.length === 1 ? "y" : "ies"}: ${lastError instanceof Error ? lastError.message : "timeout"}`, {
      cause: lastError,
    });
  }
}
