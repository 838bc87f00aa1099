import { createStderrLogger, type Logger } from "../runtime/index.ts";

/**
 * A node logger for benchmarks: prints the first few records of each message (so a flood of the same
 * warning cannot drown the output or cost the run its time) and counts all of them for the summary.
 */
export class CountingLogger implements Logger {
  readonly counts = new Map<string, number>();
  readonly #inner: Logger;
  readonly #printFirst: number;

  constructor(bindings: Record<string, unknown>, printFirst = 3) {
    this.#inner = createStderrLogger("warn", bindings);
    this.#printFirst = printFirst;
  }

  debug(): void {}
  info(): void {}

  warn(msg: string, fields?: Record<string, unknown>): void {
    if (this.#count("warn", msg) <= this.#printFirst) this.#inner.warn(msg, fields);
  }

  error(msg: string, fields?: Record<string, unknown>): void {
    if (this.#count("error", msg) <= this.#printFirst) this.#inner.error(msg, fields);
  }

  /** `level: message ×count` lines, most frequent first. */
  summary(): string[] {
    return [...this.counts.entries()].sort((a, b) => b[1] - a[1]).map(([key, n]) => `${key} ×${n}`);
  }

  #count(level: string, msg: string): number {
    const key = `${level}: ${msg}`;
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    return n;
  }
}
