import type { NatsConnection } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";

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
    if (total === 0) return;
    const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start });
    let seen = 0;
    while (seen < total) {
      const batch = await consumer.fetch({ max_messages: Math.min(1_000, total - seen), expires: 5_000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        seen++;
        yield { seq: m.seq, subject: m.subject, data: m.data };
      }
      if (got === 0) return; // nothing more arrived within `expires`
    }
  }
  return { total, messages: read() };
};
