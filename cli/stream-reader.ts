import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { fetchStream } from "../runtime/index.ts";

export interface StoredMessage {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
}

/** Where a read starts: a stream sequence, or the last `tail` messages. Default: the first stored. */
export type ReadFrom = { readonly seq: number } | { readonly tail: number };

/**
 * Reads a JetStream stream in order through an ordered consumer, in batches, from `from` to the last
 * message stored when the read began. Nothing is held beyond one batch. `total` is how many messages
 * the read will yield (these streams lose messages only at their head, to age or size limits, so the
 * count is exact).
 */
export const readStream = async (nc: NatsConnection, stream: string, from?: ReadFrom): Promise<{ total: number; messages: AsyncIterable<StoredMessage> }> => {
  const info = await (await jetstreamManager(nc)).streams.info(stream).catch(() => undefined);
  if (info === undefined || info.state.messages === 0) return { total: 0, messages: (async function* () {})() };
  const { first_seq: first, last_seq: last, messages } = info.state;
  const wanted = from === undefined ? first : "seq" in from ? from.seq : last - from.tail + 1;
  const start = Math.max(first, wanted);
  const total = start > last ? 0 : start === first ? messages : last - start + 1;
  async function* read(): AsyncGenerator<StoredMessage> {
    for await (const m of fetchStream(nc, stream, { count: total, startSeq: start })) yield { seq: m.seq, subject: m.subject, data: m.data };
  }
  return { total, messages: read() };
};
