import type { Command } from "commander";
import { DeadLetterRecord, TetherError, decodeBody, decodeEnvelope, networkSubjects } from "../protocols/index.ts";
import { withConnection } from "./connection.ts";
import { natsOption } from "./nats-option.ts";
import { examples, jsonFlag, printRows } from "./output.ts";
import { parsePositiveInt } from "./servers.ts";
import { readStream, type StoredMessage } from "./stream-reader.ts";

interface DlqFlags {
  nats: string;
  network: string;
}

/** A stored dead letter: the record (or why it could not be read) and its stream sequence. */
type Entry = { seq: number; record: DeadLetterRecord } | { seq: number; invalid: string };

const entryOf = (m: StoredMessage): Entry => {
  try {
    const parsed = DeadLetterRecord.safeParse(decodeBody(m.data));
    return parsed.success ? { seq: m.seq, record: parsed.data } : { seq: m.seq, invalid: `not a dead-letter record: ${parsed.error.issues[0]?.message ?? "schema"}` };
  } catch (error) {
    return { seq: m.seq, invalid: (error as Error).message };
  }
};

/**
 * The message body behind a record's preview, decoded when the preview holds all of it: the body of a
 * wire envelope, or whatever msgpack value a foreign publisher sent.
 */
const previewOf = (record: DeadLetterRecord): unknown => {
  const bytes = Buffer.from(record.payloadPreview, "base64");
  if (bytes.length === 0 || bytes.length < record.size) return undefined;
  try {
    const envelope = decodeEnvelope(bytes);
    return "body" in envelope ? envelope.body : undefined;
  } catch {
    try {
      return decodeBody(bytes);
    } catch {
      return undefined;
    }
  }
};

const common = (c: Command): Command => c.addOption(natsOption()).option("--network <name>", "network (tenant) name", "default");

/** `tether dlq ls|show`: the network's dead letters (JetStream stream `TETHER_<net>_DLQ`). */
export const registerDlqCommand = (program: Command): void => {
  const dlq = examples(program.command("dlq").description("the network's dead letters: messages that could not be delivered or handled"), "tether dlq ls --limit 20");

  jsonFlag(
    common(
      examples(
        dlq.command("ls").description("list dead letters, oldest first (the last --limit of them)"),
        "tether dlq ls --code ERR_MAILBOX_FULL --limit 100",
        "tether dlq ls --actor billing --json | jq -r .id",
      ),
    ),
  )
    .option("--limit <n>", "at most this many, the most recent", parsePositiveInt("--limit"), 50)
    .option("--code <code>", "only records with this error code")
    .option("--actor <id>", "only records meant for this actor")
    .action((flags: DlqFlags & { limit: number; code?: string; actor?: string; json?: boolean }) =>
      withConnection(flags, async (nc) => {
        const filtered = flags.code !== undefined || flags.actor !== undefined;
        const stream = networkSubjects(flags.network).deadLetterStream();
        // without filters only the tail is read; with them the whole stream is scanned, keeping --limit
        const { messages } = await readStream(nc, stream, filtered ? undefined : { tail: flags.limit });
        const rows: Entry[] = [];
        for await (const m of messages) {
          const e = entryOf(m);
          if ("record" in e && ((flags.code !== undefined && e.record.code !== flags.code) || (flags.actor !== undefined && e.record.target !== flags.actor))) continue;
          if ("invalid" in e && filtered) continue;
          rows.push(e);
          if (rows.length > flags.limit) rows.shift();
        }
        printRows(
          flags.json,
          rows.map((e) => ("record" in e ? { seq: e.seq, ...e.record } : e)),
          {
            head: ["SEQ", "ID", "AT", "CODE", "TARGET", "TYPE", "NODE", "REASON"],
            cells: (r) =>
              "invalid" in r
                ? [String(r.seq), "-", "-", "(unreadable)", "-", "-", "-", r.invalid]
                : [String(r.seq), r.id, new Date(r.at).toISOString(), r.code, r.target ?? "-", r.messageType ?? "-", r.node, r.reason.length > 60 ? `${r.reason.slice(0, 57)}...` : r.reason],
            empty: `no dead letters in network ${flags.network}`,
          },
        );
      }),
    );

  common(
    examples(
      dlq.command("show").argument("<id>", "record id (from `tether dlq ls`), or #<seq> for a stream sequence").description("print one dead letter as JSON, with its message body when the preview holds all of it"),
      "tether dlq show 2b7c0e9f-4c1d-4a57-9a57-0d5c1b3e8f10",
      "tether dlq show '#42'",
    ),
  ).action((id: string, flags: DlqFlags) =>
    withConnection(flags, async (nc) => {
      const bySeq = /^#\d+$/.test(id) ? Number(id.slice(1)) : undefined;
      const { messages } = await readStream(nc, networkSubjects(flags.network).deadLetterStream(), bySeq === undefined ? undefined : { seq: bySeq });
      for await (const m of messages) {
        const e = entryOf(m);
        if (bySeq !== undefined ? m.seq !== bySeq : !("record" in e) || e.record.id !== id) continue;
        const shown = "record" in e ? { seq: e.seq, ...e.record, payload: previewOf(e.record) ?? null } : e;
        process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
        return;
      }
      throw new TetherError("ERR_DEAD_LETTER_NOT_FOUND", `no dead letter ${id} in network ${flags.network} (see \`tether dlq ls\`)`);
    }),
  );
};
