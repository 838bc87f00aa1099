import { TetherError } from "../../protocols/index.ts";

/** A FIFO ring buffer bounded by `capacity`; its storage starts small and doubles as needed. */
class Ring<T> {
  #items: (T | undefined)[] = new Array<T | undefined>(8);
  #head = 0;
  #size = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.#size;
  }

  push(item: T): boolean {
    if (this.#size >= this.capacity) return false;
    if (this.#size === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#size) % this.#items.length] = item;
    this.#size++;
    return true;
  }

  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#items.length;
    this.#size--;
    return item;
  }

  /** True when some queued item matches (front to back; nothing is removed). */
  some(match: (item: T) => boolean): boolean {
    for (let i = 0; i < this.#size; i++) {
      const item = this.#items[(this.#head + i) % this.#items.length];
      if (item !== undefined && match(item)) return true;
    }
    return false;
  }

  #grow(): void {
    const next = new Array<T | undefined>(Math.min(this.capacity, this.#items.length * 2));
    for (let i = 0; i < this.#size; i++) next[i] = this.#items[(this.#head + i) % this.#items.length];
    this.#items = next;
    this.#head = 0;
  }
}

/**
 * `control` holds the runtime's own control messages (signed compensation requests): they are the
 * operator's recovery, so they may be taken while the override plane holds the mailbox (`takeControl`).
 */
export const MailboxLane = { normal: "normal", priority: "priority", control: "control" } as const;
export type MailboxLane = (typeof MailboxLane)[keyof typeof MailboxLane];

export interface MailboxOptions {
  /** Normal-lane capacity. When full, `offer` throws ERR_MAILBOX_FULL (backpressure, not a silent drop). */
  readonly capacity: number;
  /** Priority-lane capacity (override and supervision signals); also the control lane's. */
  readonly priorityCapacity: number;
}

/**
 * A bounded two-lane mailbox. `take` always returns a priority item before any normal item.
 * Ring buffers are allocated on first use and grow by doubling, so an idle actor costs a few bytes.
 */
export class Mailbox<T> {
  #normal: Ring<T> | undefined;
  #priority: Ring<T> | undefined;
  #control: Ring<T> | undefined;

  constructor(readonly options: MailboxOptions) {}

  get size(): number {
    return (this.#normal?.size ?? 0) + (this.#priority?.size ?? 0) + (this.#control?.size ?? 0);
  }

  /** Items waiting in the control lane. */
  get controlSize(): number {
    return this.#control?.size ?? 0;
  }

  /** Free places in the normal lane. */
  get room(): number {
    return this.options.capacity - (this.#normal?.size ?? 0);
  }

  /** Adds an item, or throws ERR_MAILBOX_FULL when its lane is full. */
  offer(item: T, lane: MailboxLane = "normal"): void {
    if (lane === "control") {
      this.#control ??= new Ring<T>(this.options.priorityCapacity);
      if (!this.#control.push(item)) throw full("control", this.options.priorityCapacity);
      return;
    }
    if (lane === "priority") {
      this.#priority ??= new Ring<T>(this.options.priorityCapacity);
      if (!this.#priority.push(item)) throw full("priority", this.options.priorityCapacity);
      return;
    }
    this.#normal ??= new Ring<T>(this.options.capacity);
    if (!this.#normal.push(item)) throw full("normal", this.options.capacity);
  }

  /** Next item: the priority lane first, then the control lane, then the normal lane. */
  take(): T | undefined {
    if (this.#priority !== undefined && this.#priority.size > 0) return this.#priority.shift();
    if (this.#control !== undefined && this.#control.size > 0) return this.#control.shift();
    return this.#normal?.shift();
  }

  /** Next control-lane item only (what may run while the mailbox is held). */
  takeControl(): T | undefined {
    return this.#control?.shift();
  }

  /** True when some queued work (priority or normal lane) matches; nothing is removed. */
  someWork(match: (item: T) => boolean): boolean {
    return (this.#priority?.some(match) ?? false) || (this.#normal?.some(match) ?? false);
  }

  /** Removes and returns everything still queued (shutdown). */
  drainAll(): T[] {
    const out: T[] = [];
    for (let item = this.take(); item !== undefined; item = this.take()) out.push(item);
    return out;
  }

  /** Removes and returns the queued work (priority and normal lanes), leaving control messages queued. */
  drainWork(): T[] {
    const out: T[] = [];
    for (let item = this.#priority?.shift(); item !== undefined; item = this.#priority?.shift()) out.push(item);
    for (let item = this.#normal?.shift(); item !== undefined; item = this.#normal?.shift()) out.push(item);
    return out;
  }
}

const full = (lane: MailboxLane, capacity: number): TetherError =>
  new TetherError("ERR_MAILBOX_FULL", `mailbox ${lane} lane is full (capacity ${capacity})`, {
    details: { lane, capacity },
  });
