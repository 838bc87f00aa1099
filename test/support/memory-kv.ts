import type { CounterBucket, CounterEntry } from "../../runtime/internal.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * An in-memory counter bucket for unit tests, with JetStream KV's compare-and-set rules: `create`
 * fails when the key holds a value, `update` when the key's revision moved on. Revisions come from one
 * sequence for the whole bucket, as stream sequences do.
 */
export class MemoryKv implements CounterBucket {
  readonly #entries = new Map<string, { value: Uint8Array; revision: number; operation: CounterEntry["operation"] }>();
  #sequence = 0;
  /** Writes refused because the key had moved on. */
  conflicts = 0;
  /** Successful compare-and-set writes. */
  writes = 0;
  /** Runs before each compare-and-set write is checked: a test lets "another node" write here. */
  beforeWrite: ((key: string) => void) | undefined;

  async get(key: string): Promise<CounterEntry | null> {
    const entry = this.#entries.get(key);
    return entry === undefined ? null : { ...entry };
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    this.beforeWrite?.(key);
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.operation === "PUT") {
      this.conflicts++;
      throw new Error(`wrong last sequence: ${key} exists`);
    }
    this.writes++;
    return this.#set(key, value, "PUT");
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    this.beforeWrite?.(key);
    if (this.#entries.get(key)?.revision !== revision) {
      this.conflicts++;
      throw new Error(`wrong last sequence: ${key} is not at revision ${revision}`);
    }
    this.writes++;
    return this.#set(key, value, "PUT");
  }

  /** Writes a value unconditionally, as another node would (text is stored UTF-8). Returns the revision. */
  async put(key: string, value: string | Uint8Array): Promise<number> {
    return this.#set(key, typeof value === "string" ? encoder.encode(value) : value, "PUT");
  }

  /** Leaves a delete marker, as `kv.delete` does. */
  delete(key: string): void {
    this.#set(key, new Uint8Array(0), "DEL");
  }

  /** The stored text of `key` (undefined when absent or deleted). */
  text(key: string): string | undefined {
    const entry = this.#entries.get(key);
    return entry === undefined || entry.operation !== "PUT" ? undefined : decoder.decode(entry.value);
  }

  keys(): string[] {
    return [...this.#entries.keys()];
  }

  #set(key: string, value: Uint8Array, operation: CounterEntry["operation"]): number {
    this.#sequence++;
    this.#entries.set(key, { value, revision: this.#sequence, operation });
    return this.#sequence;
  }
}
