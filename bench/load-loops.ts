import type { Histogram } from "hdr-histogram-js";
import { latencyHistogram, within, yieldToLoop } from "./stats.ts";

/** The two load shapes every suite drives: paced one-way sends and closed-loop requests. */

/** Sends `n` one-way messages, yielding to the event loop every 1,000 (as a publisher should, to let I/O run). */
export const pacedSends = async (n: number, send: (seq: number) => unknown): Promise<void> => {
  for (let i = 0; i < n; i++) {
    send(i);
    if ((i + 1) % 1000 === 0) await yieldToLoop();
  }
};

export interface ClosedLoopResult {
  readonly elapsedMs: number;
  /** Latency of each request in µs. */
  readonly histogram: Histogram;
}

/**
 * Closed-loop requests: `concurrency` callers, each sending its next request when the previous reply
 * arrives. Every reply must equal its request's sequence number; the whole run has a time limit.
 */
export const closedLoop = async (
  requests: number,
  concurrency: number,
  ask: (seq: number) => Promise<unknown>,
  what: string,
  limitMs: number,
): Promise<ClosedLoopResult> => {
  const histogram = latencyHistogram();
  const t0 = performance.now();
  let issued = 0;
  const caller = async (): Promise<void> => {
    while (issued < requests) {
      const seq = issued++;
      const start = performance.now();
      const reply = await ask(seq);
      histogram.recordValue(Math.max(1, Math.round((performance.now() - start) * 1000)));
      if (reply !== seq) throw new Error(`${what}: reply ${String(reply)} to request ${seq}`);
    }
  };
  await within(Promise.all(Array.from({ length: concurrency }, caller)), limitMs, `${what} x${concurrency}`);
  return { elapsedMs: performance.now() - t0, histogram };
};
