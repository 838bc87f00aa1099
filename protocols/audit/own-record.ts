import type { z } from "zod";
import { auditError, echo } from "./audit-errors.ts";
import { canonicalJson } from "./canonical-json.ts";
import { GENESIS_HASH, sha256Text } from "./digest.ts";
import { EpochMs, NetworkName } from "./fields.ts";
import { AUDIT_RECORD_TYPE, CheckpointBody, EctBody, EventBody, type AppendRecordInput, type LedgerRecord } from "./record.ts";

/** A record and its RFC 8785 canonical JSON (what the ledger stores), made in one pass. */
export interface ChainedRecord {
  readonly record: LedgerRecord;
  /** `canonicalJson(record)`. */
  readonly json: string;
}

const BODY = { ect: EctBody, event: EventBody, checkpoint: CheckpointBody } as const;

const issuesOf = (error: z.ZodError): string[] =>
  error.issues.slice(0, 8).map((issue) => `body.${issue.path.map(String).join(".")}: ${issue.message}`);

/**
 * The record that follows `prev`, for the writer that chained `prev` itself (the ledger actor): the
 * same record `appendRecord(prev, input, { trustedPrev: true })` returns, and its canonical JSON,
 * at a fraction of the cost. The body is validated with its kind's schema and canonicalized once;
 * the fields this function fills in (`type`, `index`, `prevHash`) are not re-parsed, and `network`
 * and `at` are checked directly. The record's members are written in RFC 8785 order (`at`, `body`,
 * `hash`, `index`, `kind`, `network`, `prevHash`, `type`), so the hash is the one `hashRecord`
 * derives (a unit test holds the two paths equal). Never use it with a `prev` read from storage.
 * Throws ERR_AUDIT_RECORD_INVALID like `appendRecord`.
 */
export const chainOwnRecord = (prev: LedgerRecord | undefined, input: AppendRecordInput): ChainedRecord => {
  if (!NetworkName.safeParse(input.network).success || !EpochMs.safeParse(input.at).success) {
    throw auditError("ERR_AUDIT_RECORD_INVALID", "not a valid audit ledger record", {
      issues: [`network or at: ${String(echo(input.network))} / ${String(echo(input.at))}`],
    });
  }
  if (prev !== undefined && prev.network !== input.network) {
    throw auditError("ERR_AUDIT_RECORD_INVALID", "a ledger holds the records of one network", { network: echo(input.network), expected: prev.network });
  }
  if (prev !== undefined && prev.index >= Number.MAX_SAFE_INTEGER) {
    throw auditError("ERR_AUDIT_RECORD_INVALID", "the ledger is full (index overflow)", { index: prev.index });
  }
  const parsed = BODY[input.kind].safeParse(input.body);
  if (!parsed.success) throw auditError("ERR_AUDIT_RECORD_INVALID", "not a valid audit ledger record", { issues: issuesOf(parsed.error) });
  let body: string;
  try {
    // Every string must be well-formed UTF-16 (no lone surrogate), or the record has no canonical form.
    body = canonicalJson(parsed.data);
  } catch (cause) {
    throw auditError("ERR_AUDIT_RECORD_INVALID", "the record has no canonical JSON form", { issues: [] }, cause);
  }
  const index = prev === undefined ? 0 : prev.index + 1;
  const prevHash = prev === undefined ? GENESIS_HASH : prev.hash;
  const head = `{"at":${String(input.at)},"body":${body},`;
  const tail = `"index":${String(index)},"kind":"${input.kind}","network":${JSON.stringify(input.network)},"prevHash":"${prevHash}","type":"${AUDIT_RECORD_TYPE}"}`;
  const hash = sha256Text(head + tail);
  const record = { type: AUDIT_RECORD_TYPE, network: input.network, index, prevHash, kind: input.kind, at: input.at, body: parsed.data, hash } as LedgerRecord;
  return { record, json: `${head}"hash":"${hash}",${tail}` };
};
