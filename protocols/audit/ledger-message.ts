import { hashRecord, safeParseRecord, type LedgerRecord } from "./record.ts";

/**
 * Format of a ledger stream message holding a batch of records (format 2): `{"format":
 * "tether.audit.v2.batch","records":[record, …]}`, the records consecutive in the chain. Format 1
 * (ledgers written before it) stored one bare record per message, with no `format` member; readers
 * accept both.
 */
export const LEDGER_BATCH_FORMAT = "tether.audit.v2.batch";

/** The message body holding these records (each given as its canonical JSON), itself canonical JSON. */
export const encodeLedgerBatch = (recordJsons: readonly string[]): string => `{"format":"${LEDGER_BATCH_FORMAT}","records":[${recordJsons.join(",")}]}`;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The records a stored message holds, as raw JSON values in chain order: the batch's records
 * (format 2), or the message itself (format 1, or anything else: verification reports what does
 * not parse where it stands). `value` is the message body as parsed JSON.
 */
export const ledgerMessageRecords = (value: unknown): unknown[] => {
  if (isObject(value) && "format" in value) {
    const records = value["records"];
    if (value["format"] === LEDGER_BATCH_FORMAT && Array.isArray(records) && records.length > 0 && Object.keys(value).length === 2) return records;
  }
  return [value];
};

/**
 * The records of a stored message when it is well formed: every record parses, its hash matches
 * its content, and each links to the one before it (next index, `prevHash` = that record's hash).
 * Then the last record's hash commits to the whole message, and a seal over that hash (the ledger
 * key's signature) authenticates every record in it. Undefined for anything else.
 */
export const chainedMessageRecords = (value: unknown): LedgerRecord[] | undefined => {
  const raws = ledgerMessageRecords(value);
  const out: LedgerRecord[] = [];
  for (const raw of raws) {
    const record = safeParseRecord(raw);
    if (record === undefined) return undefined;
    let sound: boolean;
    try {
      sound = hashRecord(raw as object) === record.hash;
    } catch {
      sound = false;
    }
    if (!sound) return undefined;
    const before = out.at(-1);
    if (before !== undefined && (record.index !== before.index + 1 || record.prevHash !== before.hash || record.network !== before.network)) return undefined;
    out.push(record);
  }
  return out;
};
