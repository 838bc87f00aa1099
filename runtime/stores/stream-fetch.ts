import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";

/** One stored message as a reader sees it. */
export interface FetchedMessage {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs | undefined;
}

/**
 * Reads `count` messages of a JetStream stream in order, from stream sequence `startSeq` (default: the
 * first stored), through an ordered consumer in fetches of `perFetch` (default 1,000). Nothing is held
 * beyond one fetch. It stops early when a fetch brings nothing within 5 s (the stream lost its head to
 * age or size limits meanwhile). The ledger reader and `tether dlq` share it.
 */
export async function* fetchStream(nc: NatsConnection, stream: string, options: { readonly count: number; readonly startSeq?: number; readonly perFetch?: number }): AsyncGenerator<FetchedMessage> {
  if (options.count <= 0) return;
  const consumer = await jetstream(nc).consumers.get(
    stream,
    options.startSeq === undefined ? { deliver_policy: DeliverPolicy.All } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: options.startSeq },
  );
  const perFetch = Math.max(1, options.perFetch ?? 1_000);
  let seen = 0;
  while (seen < options.count) {
    const batch = await consumer.fetch({ max_messages: Math.min(perFetch, options.count - seen), expires: 5_000 });
    let got = 0;
    for await (const m of batch) {
      got++;
      seen++;
      yield { seq: m.seq, subject: m.subject, data: m.data, headers: m.headers };
    }
    if (got === 0) return; // nothing more arrived within `expires`
  }
}
